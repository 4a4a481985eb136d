// Recursive-descent parser for the Jinja2 subset chat templates use. Nesting depth is bounded so
// hostile input cannot overflow the stack.
#include "chat/parser.h"

#include <cerrno>
#include <cstdlib>

namespace minnow::chat {
namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : t_(t) {}

  std::unique_ptr<Program> run() {
    auto p = std::make_unique<Program>();
    std::string end;
    p->body = parse_body({}, end);
    return p;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p_(p) {
      if (++p_->depth_ > kMaxDepth) p_->error("template nested too deeply");
    }
    ~DepthGuard() { --p_->depth_; }
    Parser* p_;
  };

  const Token& peek(size_t k = 0) const {
    size_t i = i_ + k;
    return i < t_.size() ? t_[i] : t_.back();
  }
  const Token& next() {
    const Token& t = peek();
    if (i_ < t_.size() - 1) ++i_;
    return t;
  }
  [[noreturn]] void error(const std::string& msg) const {
    throw TemplateError{msg, peek().line, peek().column};
  }
  bool is_op(const char* op, size_t k = 0) const { return peek(k).type == Tok::Op && peek(k).text == op; }
  bool is_name(const char* n, size_t k = 0) const { return peek(k).type == Tok::Name && peek(k).text == n; }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(std::string("expected '") + op + "'" + got());
  }
  std::string got() const {
    const Token& t = peek();
    switch (t.type) {
      case Tok::BlockEnd:
        return ", got end of statement block";
      case Tok::VarEnd:
        return ", got end of print statement";
      case Tok::End:
        return ", got end of template";
      default:
        return ", got '" + t.text + "'";
    }
  }
  std::string expect_name() {
    if (peek().type != Tok::Name) error("expected a name" + got());
    return next().text;
  }
  void expect_block_end() {
    if (peek().type != Tok::BlockEnd) error("expected end of statement block" + got());
    next();
  }

  ExprPtr make(Expr::Kind k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = at.line;
    e->column = at.column;
    return e;
  }

  // Parses statements until a block tag whose keyword is in `ends`; that keyword goes to `end`
  // (the tag's remainder is left for the caller).
  Body parse_body(const std::vector<std::string>& ends, std::string& end) {
    DepthGuard g(this);
    Body body;
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::End) {
        if (!ends.empty()) error("unexpected end of template, expected '" + ends[0] + "'");
        return body;
      }
      if (t.type == Tok::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->text = t.text;
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::VarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->line = t.line;
        s->column = t.column;
        s->expr = parse_expr();
        if (peek().type != Tok::VarEnd) error("expected end of print statement" + got());
        next();
        body.push_back(std::move(s));
      } else if (t.type == Tok::BlockBegin) {
        next();
        const Token& kw = peek();
        if (kw.type != Tok::Name) error("expected statement name" + got());
        for (const auto& e : ends)
          if (kw.text == e) {
            next();
            end = e;
            return body;
          }
        body.push_back(parse_statement());
      } else {
        error("unexpected token");
      }
    }
  }

  std::unique_ptr<Stmt> parse_statement() {
    const Token& kw = next();
    auto s = std::make_unique<Stmt>();
    s->line = kw.line;
    s->column = kw.column;
    const std::string& k = kw.text;
    std::string end;
    if (k == "if") {
      s->kind = Stmt::Kind::If;
      ExprPtr cond = parse_expr();
      expect_block_end();
      while (true) {
        Body b = parse_body({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(cond), std::move(b));
        if (end == "elif") {
          cond = parse_expr();
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          Body eb = parse_body({"endif"}, end);
          s->branches.emplace_back(nullptr, std::move(eb));
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (k == "for") {
      s->kind = Stmt::Kind::For;
      s->targets.push_back(expect_name());
      while (accept_op(",")) s->targets.push_back(expect_name());
      if (!accept_name("in")) error("expected 'in'" + got());
      s->expr = parse_cond(false);
      if (accept_name("if")) s->loop_filter = parse_expr();
      accept_name("recursive");
      expect_block_end();
      s->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"}, end);
      }
      expect_block_end();
    } else if (k == "set") {
      std::string first = expect_name();
      if (accept_op(".")) {
        s->kind = Stmt::Kind::Set;
        auto obj = make(Expr::Kind::Name, kw);
        obj->name = first;
        s->target_obj = std::move(obj);
        s->targets.push_back(expect_name());
        expect_op("=");
        s->expr = parse_tuple_expr();
        expect_block_end();
      } else {
        s->targets.push_back(first);
        while (accept_op(",")) s->targets.push_back(expect_name());
        if (accept_op("=")) {
          s->kind = Stmt::Kind::Set;
          s->expr = parse_tuple_expr();
          expect_block_end();
        } else {
          s->kind = Stmt::Kind::SetBlock;
          if (is_op("|")) s->expr = parse_filter_chain(nullptr);
          expect_block_end();
          s->body = parse_body({"endset"}, end);
          expect_block_end();
        }
      }
    } else if (k == "macro") {
      s->kind = Stmt::Kind::Macro;
      s->text = expect_name();
      expect_op("(");
      while (!accept_op(")")) {
        std::string p = expect_name();
        ExprPtr def;
        if (accept_op("=")) def = parse_expr();
        s->params.emplace_back(p, std::move(def));
        if (!is_op(")")) expect_op(",");
      }
      expect_block_end();
      s->body = parse_body({"endmacro"}, end);
      if (peek().type == Tok::Name) next();  // {% endmacro name %}
      expect_block_end();
    } else if (k == "call") {
      s->kind = Stmt::Kind::CallBlock;
      if (is_op("(")) error("call blocks with caller arguments are not supported");
      s->expr = parse_expr();
      if (s->expr->kind != Expr::Kind::Call) error("expected a macro call");
      expect_block_end();
      s->body = parse_body({"endcall"}, end);
      expect_block_end();
    } else if (k == "filter") {
      s->kind = Stmt::Kind::FilterBlock;
      s->expr = parse_filter_chain(nullptr, true);
      expect_block_end();
      s->body = parse_body({"endfilter"}, end);
      expect_block_end();
    } else if (k == "break" || k == "continue") {
      s->kind = k == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      expect_block_end();
    } else {
      throw TemplateError{"unknown tag '" + k + "'", kw.line, kw.column};
    }
    return s;
  }

  // `a, b` without brackets in `set` builds a tuple (we use lists).
  ExprPtr parse_tuple_expr() {
    const Token& at = peek();
    ExprPtr e = parse_expr();
    if (!is_op(",")) return e;
    auto l = make(Expr::Kind::List, at);
    l->args.push_back(std::move(e));
    while (accept_op(",")) {
      if (peek().type == Tok::BlockEnd) break;
      l->args.push_back(parse_expr());
    }
    return l;
  }

  ExprPtr parse_expr() { return parse_cond(true); }

  ExprPtr parse_cond(bool with_cond) {
    DepthGuard g(this);
    ExprPtr e = parse_or();
    if (!with_cond) return e;
    while (is_name("if")) {
      const Token& at = next();
      auto c = make(Expr::Kind::Cond, at);
      ExprPtr test = parse_or();
      ExprPtr other = accept_name("else") ? parse_cond(true) : nullptr;
      c->args.push_back(std::move(test));
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      auto o = make(Expr::Kind::Or, next());
      o->args.push_back(std::move(e));
      o->args.push_back(parse_and());
      e = std::move(o);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      auto o = make(Expr::Kind::And, next());
      o->args.push_back(std::move(e));
      o->args.push_back(parse_not());
      e = std::move(o);
    }
    return e;
  }
  ExprPtr parse_not() {
    DepthGuard g(this);
    if (is_name("not")) {
      auto n = make(Expr::Kind::Not, next());
      n->args.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    while (true) {
      const Token& at = peek();
      std::string op;
      bool neg = false;
      if (at.type == Tok::Op && (at.text == "==" || at.text == "!=" || at.text == "<" || at.text == ">" ||
                                 at.text == "<=" || at.text == ">=")) {
        op = at.text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && is_name("in", 1)) {
        op = "in";
        neg = true;
        next();
        next();
      } else {
        return e;
      }
      auto b = make(Expr::Kind::Binary, at);
      b->name = op;
      b->negated = neg;
      b->args.push_back(std::move(e));
      b->args.push_back(parse_math1());
      e = std::move(b);
    }
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      auto b = make(Expr::Kind::Binary, peek());
      b->name = next().text;
      b->args.push_back(std::move(e));
      b->args.push_back(parse_concat());
      e = std::move(b);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      auto b = make(Expr::Kind::Binary, next());
      b->name = "~";
      b->args.push_back(std::move(e));
      b->args.push_back(parse_math2());
      e = std::move(b);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      auto b = make(Expr::Kind::Binary, peek());
      b->name = next().text;
      b->args.push_back(std::move(e));
      b->args.push_back(parse_pow());
      e = std::move(b);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      auto b = make(Expr::Kind::Binary, next());
      b->name = "**";
      b->args.push_back(std::move(e));
      b->args.push_back(parse_unary(true));
      e = std::move(b);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      auto u = make(Expr::Kind::Unary, peek());
      u->name = next().text;
      u->args.push_back(parse_unary(false));
      e = std::move(u);
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filter_chain(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    DepthGuard g(this);
    const Token& t = peek();
    switch (t.type) {
      case Tok::Name: {
        next();
        if (t.text == "true" || t.text == "True") return literal(t, Value(true));
        if (t.text == "false" || t.text == "False") return literal(t, Value(false));
        if (t.text == "none" || t.text == "None") return literal(t, Value::none());
        auto n = make(Expr::Kind::Name, t);
        n->name = t.text;
        return n;
      }
      case Tok::String: {
        std::string s = next().text;
        while (peek().type == Tok::String) s += next().text;  // "a" "b" concatenates
        return literal(t, Value(std::move(s)));
      }
      case Tok::Int: {
        next();
        errno = 0;
        long long v = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE) return literal(t, Value(std::strtod(t.text.c_str(), nullptr)));
        return literal(t, Value(static_cast<int64_t>(v)));
      }
      case Tok::Float:
        next();
        return literal(t, Value(std::strtod(t.text.c_str(), nullptr)));
      case Tok::Op:
        if (t.text == "(") {
          next();
          if (accept_op(")")) return make(Expr::Kind::List, t);  // empty tuple
          ExprPtr e = parse_expr();
          if (is_op(",")) {
            auto l = make(Expr::Kind::List, t);
            l->args.push_back(std::move(e));
            while (accept_op(",")) {
              if (is_op(")")) break;
              l->args.push_back(parse_expr());
            }
            e = std::move(l);
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto l = make(Expr::Kind::List, t);
          while (!accept_op("]")) {
            l->args.push_back(parse_expr());
            if (!is_op("]")) expect_op(",");
          }
          return l;
        }
        if (t.text == "{") {
          next();
          auto d = make(Expr::Kind::Dict, t);
          while (!accept_op("}")) {
            d->args.push_back(parse_expr());
            expect_op(":");
            d->args.push_back(parse_expr());
            if (!is_op("}")) expect_op(",");
          }
          return d;
        }
        break;
      default:
        break;
    }
    error("unexpected token" + got().substr(5));
  }

  ExprPtr literal(const Token& t, Value v) {
    auto e = make(Expr::Kind::Literal, t);
    e->literal = std::move(v);
    return e;
  }

  void parse_call_args(Expr* call) {
    // after '('
    while (!accept_op(")")) {
      if (peek().type == Tok::Name && is_op("=", 1)) {
        std::string k = next().text;
        next();
        call->kwargs.emplace_back(k, parse_expr());
      } else {
        call->args.push_back(parse_expr());
      }
      if (!is_op(")")) expect_op(",");
    }
  }

  // Postfix nodes report the position where their subject starts (`x` in `x.y(1)`).
  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      Token t = peek();
      t.line = e->line;
      t.column = e->column;
      if (is_op(".")) {
        next();
        auto a = make(Expr::Kind::Attr, t);
        if (peek().type == Tok::Int) {  // foo.0 is foo[0]
          a->kind = Expr::Kind::Item;
          a->args.push_back(std::move(e));
          a->args.push_back(parse_primary());
        } else {
          a->name = expect_name();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (is_op("[")) {
        next();
        ExprPtr idx[3];
        bool slice = false;
        for (int part = 0; part < 3; ++part) {
          if (!is_op(":") && !is_op("]")) idx[part] = parse_expr();
          if (part < 2 && accept_op(":")) {
            slice = true;
            continue;
          }
          break;
        }
        expect_op("]");
        auto a = make(slice ? Expr::Kind::Slice : Expr::Kind::Item, t);
        a->args.push_back(std::move(e));
        if (!slice && !idx[0]) error("expected subscript");
        for (int part = 0; part < (slice ? 3 : 1); ++part) a->args.push_back(std::move(idx[part]));
        e = std::move(a);
      } else if (is_op("(")) {
        next();
        auto c = make(Expr::Kind::Call, t);
        c->args.push_back(std::move(e));
        parse_call_args(c.get());
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  // `| name(args)` filters and `is [not] name args` tests, applied left to right. With
  // `subject == nullptr` the chain starts at the first filter (filter blocks, set blocks).
  ExprPtr parse_filter_chain(ExprPtr subject, bool bare_first = false) {
    bool first = true;
    while (true) {
      if (is_op("|") || (bare_first && first)) {
        const Token& t = (bare_first && first) ? peek() : next();
        first = false;
        auto f = make(Expr::Kind::Filter, t);
        f->name = expect_name();
        while (accept_op(".")) f->name += "." + expect_name();
        f->args.push_back(std::move(subject));
        if (accept_op("(")) parse_call_args(f.get());
        subject = std::move(f);
      } else if (is_name("is") && subject) {
        const Token& t = next();
        auto f = make(Expr::Kind::Test, t);
        f->negated = accept_name("not");
        f->name = expect_name();
        f->args.push_back(std::move(subject));
        if (accept_op("(")) {
          parse_call_args(f.get());
        } else {
          const Token& a = peek();
          bool arg_start = a.type == Tok::Int || a.type == Tok::Float || a.type == Tok::String ||
                           (a.type == Tok::Name && a.text != "else" && a.text != "or" && a.text != "and" &&
                            a.text != "if" && a.text != "is" && a.text != "in" && a.text != "not") ||
                           (a.type == Tok::Op && (a.text == "[" || a.text == "{"));
          if (arg_start) f->args.push_back(parse_postfix(parse_primary()));
        }
        subject = std::move(f);
      } else {
        return subject;
      }
    }
  }

  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

std::unique_ptr<Program> parse(const std::vector<Token>& tokens) {
  return Parser(tokens).run();
}

}  // namespace minnow::chat

// Jinja2 lexing rules reproduced: `{{ }}`, `{% %}`, `{# #}`; a `-` inside the delimiter strips
// all whitespace on that side; trim_blocks drops one newline after `%}`/`#}`; lstrip_blocks drops
// spaces/tabs before `{%`/`{#` when only they precede it on its line (`{%+` opts out).
#include "chat/lexer.h"

#include <cctype>
#include <cstdint>

#include "chat/value.h"

namespace minnow::chat {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(std::move(src)) {}

  std::vector<Token> run() {
    bool strip_next = false;    // a `-}}`/`-%}` before this text
    bool line_starting = true;  // the last token ended a line (for lstrip_blocks)
    while (pos_ < s_.size()) {
      size_t open = find_open(pos_);
      std::string text = s_.substr(pos_, open - pos_);
      int tline = line_, tcol = col_;
      advance_to(open);
      if (strip_next) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
        strip_next = false;
      }
      if (open < s_.size()) {
        char kind = s_[open + 1];
        char mod = open + 2 < s_.size() ? s_[open + 2] : '\0';
        if (mod == '-') {
          while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if (mod != '+' && kind != '{') {
          size_t l = text.rfind('\n');
          size_t start = l == std::string::npos ? 0 : l + 1;
          if (l != std::string::npos || line_starting) {
            bool ws = start < text.size();
            for (size_t k = start; k < text.size(); ++k)
              if (!is_space(text[k])) ws = false;
            if (ws) text.erase(start);
          }
        }
      }
      if (!text.empty()) out_.push_back({Tok::Text, text, tline, tcol});
      if (open >= s_.size()) break;
      char kind = s_[open + 1];
      int oline = line_, ocol = col_;
      advance(2);
      if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) advance(1);
      if (kind == '#') {
        size_t end = s_.find("#}", pos_);
        if (end == std::string::npos) error_at(oline, ocol, "unterminated comment");
        bool minus = end > pos_ && s_[end - 1] == '-';
        advance_to(end + 2);
        strip_next = minus;
        if (!minus) trim_newline();
      } else {
        bool block = kind == '%';
        out_.push_back({block ? Tok::BlockBegin : Tok::VarBegin, "", oline, ocol});
        bool minus = false, plus = false;
        lex_tag(block, minus, plus);
        strip_next = minus;
        if (block) {
          // `{% raw %}` copies everything up to `{% endraw %}` verbatim.
          size_t n = out_.size();
          if (n >= 3 && out_[n - 2].type == Tok::Name && out_[n - 2].text == "raw" &&
              out_[n - 3].type == Tok::BlockBegin) {
            out_.resize(n - 3);
            lex_raw(oline, ocol, strip_next);
            line_starting = pos_ > 0 && s_[pos_ - 1] == '\n';
            continue;
          }
          if (!minus && !plus) trim_newline();
        }
      }
      line_starting = pos_ > 0 && s_[pos_ - 1] == '\n';
    }
    out_.push_back({Tok::End, "", line_, col_});
    return std::move(out_);
  }

 private:
  [[noreturn]] void error_at(int line, int col, const std::string& msg) {
    throw TemplateError{msg, line, col};
  }

  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return s_.size();
  }
  void advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < s_.size(); ++i, ++pos_) {
      if (s_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }
  void advance_to(size_t p) { advance(p - pos_); }
  void trim_newline() {
    if (pos_ < s_.size() && s_[pos_] == '\n') advance(1);
  }

  void lex_raw(int line, int col, bool strip_first) {
    size_t p = pos_;
    while (true) {
      size_t open = s_.find("{%", p);
      if (open == std::string::npos) error_at(line, col, "unterminated raw block");
      size_t q = open + 2;
      bool minus = q < s_.size() && s_[q] == '-';
      if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) ++q;
      while (q < s_.size() && is_space(s_[q])) ++q;
      if (s_.compare(q, 6, "endraw") != 0) {
        p = open + 2;
        continue;
      }
      q += 6;
      while (q < s_.size() && is_space(s_[q])) ++q;
      bool end_minus = q < s_.size() && s_[q] == '-';
      if (end_minus) ++q;
      if (s_.compare(q, 2, "%}") != 0) error_at(line, col, "malformed endraw");
      std::string text = s_.substr(pos_, open - pos_);
      if (strip_first) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      if (minus)
        while (!text.empty() && is_space(text.back())) text.pop_back();
      if (!text.empty()) out_.push_back({Tok::Text, text, line, col});
      advance_to(q + 2);
      if (end_minus) {
        while (pos_ < s_.size() && is_space(s_[pos_])) advance(1);
      } else {
        trim_newline();
      }
      return;
    }
  }

  void lex_tag(bool block, bool& minus, bool& plus) {
    const char close = block ? '%' : '}';
    int depth = 0;  // brackets open: `}}` inside a dict literal does not end the tag
    while (true) {
      while (pos_ < s_.size() && is_space(s_[pos_])) advance(1);
      if (pos_ >= s_.size())
        error_at(line_, col_, std::string("unexpected end of template, expected '") + close + "}'");
      if (depth == 0) {
        if ((s_[pos_] == '-' || s_[pos_] == '+') &&
            s_.compare(pos_ + 1, 2, std::string(1, close) + "}") == 0) {
          (s_[pos_] == '-' ? minus : plus) = true;
          out_.push_back({block ? Tok::BlockEnd : Tok::VarEnd, "", line_, col_});
          advance(3);
          return;
        }
        if (s_.compare(pos_, 2, std::string(1, close) + "}") == 0) {
          out_.push_back({block ? Tok::BlockEnd : Tok::VarEnd, "", line_, col_});
          advance(2);
          return;
        }
      }
      char c = s_[pos_];
      int tl = line_, tc = col_;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos_;
        while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
        out_.push_back({Tok::Name, s_.substr(pos_, e - pos_), tl, tc});
        advance_to(e);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t e = pos_;
        bool is_float = false;
        while (e < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
        if (e + 1 < s_.size() && s_[e] == '.' && std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
          is_float = true;
          ++e;
          while (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) ++e;
        }
        if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
          size_t f = e + 1;
          if (f < s_.size() && (s_[f] == '+' || s_[f] == '-')) ++f;
          if (f < s_.size() && std::isdigit(static_cast<unsigned char>(s_[f]))) {
            is_float = true;
            e = f;
            while (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) ++e;
          }
        }
        std::string num;
        for (size_t k = pos_; k < e; ++k)
          if (s_[k] != '_') num += s_[k];
        out_.push_back({is_float ? Tok::Float : Tok::Int, num, tl, tc});
        advance_to(e);
      } else if (c == '\'' || c == '"') {
        out_.push_back({Tok::String, lex_string(c), tl, tc});
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                           "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                           "]",  "{",  "}",  ",",  ".",  ":",  "|"};
        const char* found = nullptr;
        for (const char* op : kOps)
          if (s_.compare(pos_, std::char_traits<char>::length(op), op) == 0) {
            found = op;
            break;
          }
        if (!found) error_at(tl, tc, std::string("unexpected character '") + c + "'");
        std::string op(found);
        if (op == "(" || op == "[" || op == "{") ++depth;
        if (op == ")" || op == "]" || op == "}") {
          if (depth == 0) error_at(tl, tc, "unexpected '" + op + "'");
          --depth;
        }
        out_.push_back({Tok::Op, op, tl, tc});
        advance(op.size());
      }
    }
  }

  std::string lex_string(char q) {
    int sl = line_, sc = col_;
    advance(1);
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error_at(sl, sc, "unterminated string");
      char c = s_[pos_];
      if (c == q) {
        advance(1);
        return out;
      }
      if (c == '\\' && pos_ + 1 < s_.size()) {
        char n = s_[pos_ + 1];
        advance(2);
        switch (n) {
          case 'n':
            out += '\n';
            break;
          case 't':
            out += '\t';
            break;
          case 'r':
            out += '\r';
            break;
          case '\\':
            out += '\\';
            break;
          case '\'':
            out += '\'';
            break;
          case '"':
            out += '"';
            break;
          case '\n':
            break;
          case 'x':
          case 'u':
          case 'U': {  // Python's \xXX, \uXXXX, \UXXXXXXXX, written out as UTF-8
            size_t len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
            uint32_t cp = 0;
            bool ok = pos_ + len <= s_.size();
            for (size_t k = 0; ok && k < len; ++k) {
              char h = s_[pos_ + k];
              ok = std::isxdigit(static_cast<unsigned char>(h)) != 0;
              cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : (std::tolower(h) - 'a' + 10));
            }
            if (!ok || cp > 0x10FFFF) error_at(line_, col_, "invalid escape in string");
            advance(len);
            append_utf8(out, cp);
            break;
          }
          default:
            out += '\\';
            out += n;
        }
        continue;
      }
      out += c;
      advance(1);
    }
  }

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
  // Jinja2 normalizes newlines to "\n" and drops a single trailing newline
  // (keep_trailing_newline=False).
  std::string s;
  s.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      s += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      s += source[i];
    }
  }
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return Lexer(std::move(s)).run();
}

}  // namespace minnow::chat

// Template AST and the recursive-descent parser that builds it from lexer tokens, following
// Jinja2's grammar and operator precedence (filters and `is` tests bind tighter than `~`, `+`).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/lexer.h"
#include "chat/value.h"

namespace minnow::chat {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Literal,
    Name,
    List,
    Dict,
    Attr,
    Item,
    Slice,
    Call,
    Filter,
    Test,
    Unary,
    Binary,
    And,
    Or,
    Not,
    Cond
  };
  Kind kind;
  int line = 0, column = 0;
  std::string name;           // Name/Attr/Filter/Test; operator for Unary/Binary
  Value literal;              // Literal
  std::vector<ExprPtr> args;  // operands, elements, call args (args[0]: callee/subject)
  std::vector<std::pair<std::string, ExprPtr>> kwargs;  // call keyword arguments
  bool negated = false;                                 // `is not`, `not in`
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, FilterBlock, CallBlock };
  Kind kind;
  int line = 0, column = 0;
  std::string text;                                // Text; Macro name
  ExprPtr expr;                                    // Output/For iterable/Set value/FilterBlock filter
  std::vector<std::string> targets;                // For/Set names
  ExprPtr target_obj;                              // Set `ns.attr`: ns
  std::vector<std::pair<ExprPtr, Body>> branches;  // If: (condition, body); else has null condition
  Body body, else_body;
  ExprPtr loop_filter;                                  // For ... if cond
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters and defaults
};

struct Program {
  Body body;
};

// Throws TemplateError with the line and column of the offending token.
std::unique_ptr<Program> parse(const std::vector<Token>& tokens);

}  // namespace minnow::chat

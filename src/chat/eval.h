// Tree-walking evaluator for parsed templates, with the sandbox's limits: bounded recursion,
// total loop iterations, string/list sizes and output size, so hostile templates cannot hang or
// exhaust memory. Filters and tests live in filters.cpp, attribute access and methods in methods.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/parser.h"
#include "chat/value.h"

namespace minnow::chat {

struct Limits {
  size_t max_output = 100u << 20;       // bytes rendered
  size_t max_string = 100u << 20;       // bytes in any one string value
  size_t max_list = 10'000'000;         // elements in any one list
  uint64_t max_iterations = 1'000'000;  // loop iterations and builtin element visits, in total
  uint64_t max_work_bytes =
      1ull << 30;       // bytes produced by strings/lists built, in total (~0.1 s of copying)
  int max_depth = 500;  // nested evaluation (expressions, statements, macro calls)
};

struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  Frame* parent = nullptr;
  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value v);
};

class Evaluator {
 public:
  Evaluator(const Program& program, Frame* globals, Limits limits)
      : program_(program), root_(globals), limits_(limits) {}

  // Throws TemplateError.
  std::string render();

  // Used by filters.cpp and methods.cpp.
  Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
  bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
  Value call_method(const Value& obj, const std::string& name, CallArgs& args);
  bool has_method(const Value& obj, const std::string& name) const;
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  void count_iterations(uint64_t n);
  Value check_size(Value v);  // also charges the value's bytes to the work budget
  Value call(const Value& fn, CallArgs& args);

 private:
  enum class Flow { Normal, Break, Continue };
  struct DepthGuard {
    explicit DepthGuard(Evaluator* e);
    ~DepthGuard() { --e_->depth_; }
    Evaluator* e_;
  };

  Flow exec(const Body& body, Frame& frame, std::string& out);
  Flow exec_stmt(const Stmt& s, Frame& frame, std::string& out);
  void exec_for(const Stmt& s, Frame& frame, std::string& out);
  void exec_set(const Stmt& s, Frame& frame, std::string& out);
  Value make_macro(const Stmt& s);
  Value eval(const Expr& e, Frame& frame);
  Value eval_inner(const Expr& e, Frame& frame);
  Value eval_binary(const Expr& e, Frame& frame);
  Value eval_call(const Expr& e, Frame& frame);
  CallArgs eval_args(const Expr& e, Frame& frame, size_t first);
  void emit(std::string& out, std::string_view s);

  const Program& program_;
  Frame* root_;
  Limits limits_;
  int depth_ = 0;
  uint64_t iterations_ = 0;
  uint64_t work_bytes_ = 0;
};

// Binary operators shared with filters (Python semantics): + - * / // % ** ~
Value binary_op(const std::string& op, const Value& a, const Value& b);

}  // namespace minnow::chat

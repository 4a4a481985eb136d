// `minnow logits MODEL --ids "1 2 3"`: the top logits of every position and the full last row,
// as JSON in the shape of ../shared/reference/*.ref.json, for differential checks.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <numeric>
#include <sstream>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string ids;
  int top = 10;
  int threads = 0;
  std::string kv_type = "f16";
  std::string isa;
};

int logits(const LogitsArgs& a) {
  std::vector<int32_t> ids;
  std::istringstream in(a.ids);
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long v = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > INT32_MAX) return fail("--ids: '" + word + "' is not a token id");
    ids.push_back(static_cast<int32_t>(v));
  }
  if (ids.empty()) return fail("--ids: no token ids given");
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.isa = a.isa;
  auto ref = resolve_model(a.model);
  if (!ref) return fail(ref.error().message);
  auto model = Model::load(ref->path, lo);
  if (!model) return fail(model.error().message);
  const int64_t trained = (*model)->info().context_length;
  if (static_cast<int64_t>(ids.size()) > trained) {
    return fail(strfmt("--ids: %zu ids exceed the model's context of %lld tokens", ids.size(),
                       static_cast<long long>(trained)));
  }
  SessionOptions so;
  so.kv_f32 = a.kv_type == "f32";
  so.n_ctx = static_cast<int>(ids.size());  // a cache for exactly these positions
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);
  if (auto st = (*session)->eval(ids, true); !st) return fail(st.error().message);

  nlohmann::json positions = nlohmann::json::array();
  std::vector<int32_t> order;
  for (size_t p = 0; p < ids.size(); ++p) {
    std::span<const float> row = (*session)->logits(static_cast<int64_t>(p));
    order.resize(row.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t k = std::min<size_t>(static_cast<size_t>(std::max(a.top, 0)), row.size());
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t x, int32_t y) {
      return row[x] > row[y] || (row[x] == row[y] && x < y);
    });
    nlohmann::json top = nlohmann::json::array();
    for (size_t i = 0; i < k; ++i) top.push_back({order[i], static_cast<double>(row[order[i]])});
    positions.push_back(std::move(top));
  }
  std::span<const float> last = (*session)->logits(static_cast<int64_t>(ids.size()) - 1);
  nlohmann::json out;
  out["positions"] = std::move(positions);
  out["last_logits"] = std::vector<double>(last.begin(), last.end());
  std::string s = out.dump();
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

void add_logits_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* cmd = app.add_subcommand("logits", "Print the logits of a token sequence as JSON");
  cmd->add_option("model", a->model, "A .gguf file or a model name in the store")->required();
  cmd->add_option("--ids", a->ids, "Token ids, space separated (BOS included if wanted)")->required();
  cmd->add_option("--top", a->top, "Top logits to list per position")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-type", a->kv_type, "KV cache type")->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar, avx2, avx512 or amx");
  cmd->callback([a, exit_code] { *exit_code = logits(*a); });
}

}  // namespace minnow::cli

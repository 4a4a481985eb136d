// `minnow embed MODEL TEXT...`: the embedding of each text (pooled, unit length) as a JSON array
// of arrays of floats, one per text, in order.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

struct EmbedArgs {
  std::string model;
  std::vector<std::string> texts;
  int ctx_size = 0;
  int dimensions = 0;
  bool truncate = false;
  int threads = 0;
  std::string isa;
};

int embed(const EmbedArgs& a) {
  auto ref = resolve_model(a.model);
  if (!ref) return fail(ref.error().message);
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.isa = a.isa;
  auto model = Model::load(ref->path, lo);
  if (!model) return fail(model.error().message);
  SessionOptions so;
  so.n_ctx = a.ctx_size;
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);
  auto out = (*session)->embed_texts(a.texts, EmbedOptions{a.truncate, a.dimensions});
  if (!out) return fail(out.error().message);
  // float32 JSON numbers: each prints as the shortest text that reads back the same float.
  using json32 = nlohmann::basic_json<std::map, std::vector, std::string, bool, int64_t, uint64_t, float>;
  json32 j = json32::array();
  for (const Embedding& e : *out) j.push_back(e.values);
  const std::string s = j.dump();
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace

void add_embed_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<EmbedArgs>();
  CLI::App* cmd = app.add_subcommand("embed", "Print the embeddings of texts as JSON (one array per text)");
  cmd->add_option("model", a->model, "A .gguf file or a model name in the store")->required();
  cmd->add_option("text", a->texts, "Texts to embed")->required();
  cmd->add_option("--ctx-size,-c", a->ctx_size, "Context size in tokens (0: the model's default)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dimensions", a->dimensions, "Keep only the first N values (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--truncate", a->truncate, "Cut texts longer than the context instead of failing");
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar, avx2, avx512 or amx");
  cmd->callback([a, exit_code] { *exit_code = embed(*a); });
}

}  // namespace minnow::cli

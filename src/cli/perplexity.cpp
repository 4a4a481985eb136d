// `minnow perplexity MODEL --file TEXT [--ctx-size N] [--kl-base BASE]`: perplexity of a text as
// llama.cpp's llama-perplexity measures it (chunks of N tokens, the first half of each only
// context, the second half scored), and with a base model the KL divergence of the model's
// next-token distributions from the base's: the evidence of what quantization costs.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

struct PerplexityArgs {
  std::string model;
  std::string file;
  std::string kl_base;
  int ctx_size = 0;  // 0: 512 (llama-perplexity's customary context, so figures compare) or less
  int threads = 0;
};

// Mean of a sample and the standard error of that mean.
struct Stats {
  double sum = 0, sum2 = 0;
  int64_t n = 0;

  void add(double v) {
    sum += v;
    sum2 += v * v;
    ++n;
  }
  double mean() const { return n ? sum / static_cast<double>(n) : 0.0; }
  double std_error() const {
    if (n < 2) return 0.0;
    const double var = sum2 / static_cast<double>(n) - mean() * mean();
    return var > 0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
  }
};

// out[i] = log softmax(logits)[i], summed in double: a 150k vocabulary in float loses digits.
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  double max = logits[0];
  for (float v : logits) max = std::max(max, static_cast<double>(v));
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  const double lse = max + std::log(sum);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = static_cast<double>(logits[i]) - lse;
}

size_t argmax(const std::vector<double>& v) {
  return static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

Result<std::string> read_text(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error("--file %s: %s", path.c_str(), std::strerror(errno));
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return make_error("--file %s: read error", path.c_str());
  return text;
}

Result<std::shared_ptr<Model>> load_model(const std::string& arg, int threads) {
  auto ref = resolve_model(arg);
  if (!ref) return ref.error();
  LoadOptions lo;
  lo.n_threads = threads;
  return Model::load(ref->path, lo);
}

// The base must score the same token sequence over the same vocabulary, or a KL divergence
// between their distributions means nothing.
Status check_same_vocab(const Model& model, const Model& base, const std::vector<int32_t>& tokens,
                        const std::string& text) {
  const int64_t n = model.info().n_vocab;
  if (base.info().n_vocab != n) {
    return make_error("--kl-base: its vocabulary has %lld tokens, the model's %lld",
                      static_cast<long long>(base.info().n_vocab), static_cast<long long>(n));
  }
  for (int32_t id = 0; id < n; ++id) {
    if (model.token_to_piece(id) != base.token_to_piece(id)) {
      return make_error("--kl-base: token %d is '%s' in the base's vocabulary, '%s' in the model's", id,
                        base.token_to_piece(id).c_str(), model.token_to_piece(id).c_str());
    }
  }
  auto base_tokens = base.tokenize(text, true, false);
  if (!base_tokens) return base_tokens.error().with_context("--kl-base");
  if (*base_tokens != tokens)
    return make_error("--kl-base: the base tokenizes the text differently from the model");
  return {};
}

int perplexity(const PerplexityArgs& a) {
  auto text = read_text(a.file);
  if (!text) return fail(text.error().message);
  auto model = load_model(a.model, a.threads);
  if (!model) return fail(model.error().message);
  const int64_t trained = (*model)->info().context_length;
  const int n_ctx = a.ctx_size > 0 ? a.ctx_size : static_cast<int>(std::min<int64_t>(512, trained));
  if (n_ctx < 4) return fail(strfmt("--ctx-size %d: a chunk needs at least 4 tokens", n_ctx));
  if (n_ctx > trained) {
    return fail(strfmt("--ctx-size %d exceeds the model's trained context of %lld tokens", n_ctx,
                       static_cast<long long>(trained)));
  }
  auto tokens = (*model)->tokenize(*text, true, false);
  if (!tokens) return fail(tokens.error().message);
  // Two chunks at least, as llama-perplexity asks: one chunk's figure says little.
  if (tokens->size() < 2 * static_cast<size_t>(n_ctx)) {
    return fail(
        strfmt("%s is %zu tokens; perplexity with --ctx-size %d needs at least %d (two chunks): "
               "give a longer text or a smaller --ctx-size",
               a.file.c_str(), tokens->size(), n_ctx, 2 * n_ctx));
  }
  // Each chunk starts with BOS in place of its first token when the vocabulary uses one, so
  // every chunk looks like the start of a document.
  auto bos = (*model)->tokenize("", true, false);
  const int32_t bos_id = bos && bos->size() == 1 ? (*bos)[0] : -1;

  std::shared_ptr<Model> base;
  if (!a.kl_base.empty()) {
    auto b = load_model(a.kl_base, a.threads);
    if (!b) return fail(b.error().with_context("--kl-base").message);
    base = *b;
    if (Status st = check_same_vocab(**model, *base, *tokens, *text); !st) return fail(st.error().message);
  }
  SessionOptions so;
  so.n_ctx = n_ctx;
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);
  std::unique_ptr<Session> base_session;
  if (base) {
    auto s = base->new_session(so);
    if (!s) return fail(s.error().with_context("--kl-base").message);
    base_session = std::move(*s);
  }

  const size_t n_chunk = tokens->size() / static_cast<size_t>(n_ctx);
  const int first = n_ctx / 2;  // positions before this are context only
  std::printf("%zu tokens, %zu chunks of %d, scoring the last %d predictions of each\n", tokens->size(),
              n_chunk, n_ctx, n_ctx - 1 - first);
  Stats nll, base_nll, kld;
  int64_t same_top = 0;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<double> lp, lp_base;  // [n_vocab] log-probabilities of one position
  for (size_t c = 0; c < n_chunk; ++c) {
    const int32_t* src = tokens->data() + c * static_cast<size_t>(n_ctx);
    std::copy(src, src + n_ctx, chunk.begin());
    if (bos_id >= 0) chunk[0] = bos_id;
    (*session)->reset();
    if (Status st = (*session)->eval(chunk, true); !st) return fail(st.error().message);
    if (base_session) {
      base_session->reset();
      if (Status st = base_session->eval(chunk, true); !st)
        return fail(st.error().with_context("--kl-base").message);
    }
    for (int j = first; j < n_ctx - 1; ++j) {
      const int32_t next = src[j + 1];  // what position j predicts
      log_softmax((*session)->logits(j), lp);
      if (next < 0 || static_cast<size_t>(next) >= lp.size()) {
        return fail(strfmt("token %d of the text is outside the model's %zu logits", next, lp.size()));
      }
      nll.add(-lp[static_cast<size_t>(next)]);
      if (!base_session) continue;
      log_softmax(base_session->logits(j), lp_base);
      base_nll.add(-lp_base[static_cast<size_t>(next)]);
      double kl = 0;
      for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp_base[i]) * (lp_base[i] - lp[i]);
      kld.add(kl);
      same_top += argmax(lp) == argmax(lp_base);
    }
    if (base_session) {
      std::printf("[%zu] PPL %.4f, base %.4f, KL %.6f\n", c + 1, std::exp(nll.mean()),
                  std::exp(base_nll.mean()), kld.mean());
    } else {
      std::printf("[%zu] PPL %.4f\n", c + 1, std::exp(nll.mean()));
    }
    std::fflush(stdout);
  }
  // exp of a mean with standard error s has standard error ~ exp(mean) * s (first order).
  const double ppl = std::exp(nll.mean());
  std::printf("final: PPL = %.4f +/- %.4f over %lld predictions\n", ppl, ppl * nll.std_error(),
              static_cast<long long>(nll.n));
  if (base_session) {
    const double base_ppl = std::exp(base_nll.mean());
    std::printf("base: PPL = %.4f +/- %.4f\n", base_ppl, base_ppl * base_nll.std_error());
    std::printf("KL divergence (base || model): mean = %.6f +/- %.6f\n", kld.mean(), kld.std_error());
    const double p = static_cast<double>(same_top) / static_cast<double>(kld.n);
    const double p_err = kld.n > 1 ? std::sqrt(p * (1 - p) / static_cast<double>(kld.n - 1)) : 0.0;
    std::printf("same top token: %.2f%% +/- %.2f%%\n", 100 * p, 100 * p_err);
  }
  return 0;
}

}  // namespace

void add_perplexity_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd =
      app.add_subcommand("perplexity", "Perplexity of a text, and KL divergence from a base model");
  cmd->add_option("model", a->model, "A .gguf file or a model name in the store")->required();
  cmd->add_option("--file,-f", a->file, "The text to score")->required();
  cmd->add_option(
         "--ctx-size,-c", a->ctx_size,
         "Tokens per chunk, the second half of each scored (default 512, or the trained context if less)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kl-base", a->kl_base,
                  "A base model (.gguf or store name) to compare the distributions with");
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([a, exit_code] { *exit_code = perplexity(*a); });
}

}  // namespace minnow::cli

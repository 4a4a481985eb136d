#include "engine/embed.h"

#include <algorithm>
#include <cmath>

#include "gguf/gguf.h"

namespace minnow {
namespace {

// An input cut to the context (or the error for one too long), and whether it was cut.
Result<std::vector<int32_t>> fit(const EmbedPass& pass, const std::vector<int32_t>& input, size_t index,
                                 const EmbedOptions& o, bool* truncated) {
  if (input.empty()) return make_error("embed: input %zu has no tokens", index);
  const size_t n_ctx = static_cast<size_t>(pass.n_ctx);
  *truncated = input.size() > n_ctx;
  if (!*truncated) return input;
  if (!o.truncate) {
    return make_error(
        "embed: input %zu is %zu tokens, longer than the context of %d (truncate it, or raise num_ctx)",
        index, input.size(), pass.n_ctx);
  }
  std::vector<int32_t> cut(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(n_ctx));
  if (pass.end_token >= 0 && input.back() == pass.end_token) cut.back() = pass.end_token;
  return cut;
}

// Pools rows [n][n_embd] of one input into sum (mean: accumulated; cls, last: the row itself).
// first_row, last_row: whether these rows hold the input's first or last token.
void pool_rows(Pooling pooling, const float* rows, int64_t n, int n_embd, bool first_row, bool last_row,
               std::vector<double>& sum) {
  if (pooling == Pooling::kCls) {
    if (first_row) std::copy(rows, rows + n_embd, sum.begin());
  } else if (pooling == Pooling::kLast) {
    if (last_row) std::copy(rows + (n - 1) * n_embd, rows + n * n_embd, sum.begin());
  } else {
    for (int64_t t = 0; t < n; ++t)
      for (int i = 0; i < n_embd; ++i) sum[i] += rows[t * n_embd + i];
  }
}

// The pooled vector, cut to dims and scaled to unit L2 norm (a zero vector stays zero).
std::vector<float> finish(Pooling pooling, std::vector<double> pooled, int64_t n_tokens, int dims) {
  if (pooling != Pooling::kCls && pooling != Pooling::kLast)
    for (double& x : pooled) x /= static_cast<double>(n_tokens);
  pooled.resize(static_cast<size_t>(dims));
  double norm = 0;
  for (double x : pooled) norm += x * x;
  norm = std::sqrt(norm);
  std::vector<float> out(pooled.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(norm > 0 ? pooled[i] / norm : 0.0);
  return out;
}

// A decoder: each input from an empty cache, in chunks of n_batch tokens.
Status embed_decoder(const EmbedPass& pass, Pooling pooling, const std::vector<std::vector<int32_t>>& inputs,
                     int dims, std::vector<Embedding>& out) {
  const int E = pass.model.hparams().n_embd;
  std::vector<float> hidden;  // [n_batch][n_embd]
  std::vector<int32_t> positions;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int32_t>& in = inputs[i];
    std::vector<double> pooled(E, 0.0);
    pass.cache.set_n_past(0);
    for (size_t b = 0; b < in.size(); b += static_cast<size_t>(pass.n_batch)) {
      const int64_t n = static_cast<int64_t>(std::min<size_t>(pass.n_batch, in.size() - b));
      hidden.resize(static_cast<size_t>(n * E));
      positions.resize(static_cast<size_t>(n));
      for (int64_t t = 0; t < n; ++t) positions[t] = static_cast<int32_t>(b + t);
      const Status st =
          pass.model.forward_hidden(pass.c, in.data() + b, positions.data(), n, pass.cache, hidden.data());
      if (!st.ok()) {
        pass.cache.set_n_past(0);
        return st.error().with_context(strfmt("embed: input %zu", i));
      }
      pool_rows(pooling, hidden.data(), n, E, b == 0, b + n == in.size(), pooled);
    }
    out[i].values = finish(pooling, std::move(pooled), static_cast<int64_t>(in.size()), dims);
  }
  pass.cache.set_n_past(0);
  return Status();
}

// An encoder: inputs packed into passes of up to max(n_batch, n_ctx) tokens (each input whole),
// each starting at position 0 within its pass.
Status embed_encoder(const EmbedPass& pass, Pooling pooling, const std::vector<std::vector<int32_t>>& inputs,
                     int dims, std::vector<Embedding>& out) {
  const int E = pass.model.hparams().n_embd;
  const size_t budget = static_cast<size_t>(std::max(pass.n_batch, pass.n_ctx));
  std::vector<int32_t> tokens, positions;
  std::vector<float> hidden;  // [n_tokens of the pass][n_embd]
  for (size_t first = 0, end = 0; first < inputs.size(); first = end) {
    tokens.clear();
    positions.clear();
    for (end = first; end < inputs.size() && (end == first || tokens.size() + inputs[end].size() <= budget);
         ++end) {
      tokens.insert(tokens.end(), inputs[end].begin(), inputs[end].end());
      for (size_t p = 0; p < inputs[end].size(); ++p) positions.push_back(static_cast<int32_t>(p));
    }
    hidden.resize(tokens.size() * static_cast<size_t>(E));
    const Status st =
        pass.model.forward_hidden(pass.c, tokens.data(), positions.data(),
                                  static_cast<int64_t>(tokens.size()), pass.cache, hidden.data());
    if (!st.ok()) {
      return st.error().with_context(end - first == 1 ? strfmt("embed: input %zu", first)
                                                      : strfmt("embed: inputs %zu to %zu", first, end - 1));
    }
    const float* rows = hidden.data();
    for (size_t i = first; i < end; ++i) {
      const int64_t n = static_cast<int64_t>(inputs[i].size());
      std::vector<double> pooled(E, 0.0);
      pool_rows(pooling, rows, n, E, true, true, pooled);
      out[i].values = finish(pooling, std::move(pooled), n, dims);
      rows += n * E;
    }
  }
  return Status();
}

}  // namespace

Result<int64_t> read_pooling_type(const gguf::File& f, const std::string& arch) {
  const std::string key = arch + ".pooling_type";
  if (!f.find(key)) return static_cast<int64_t>(Pooling::kUnset);
  return f.get_int(key);
}

std::string pooling_name(int64_t pooling_type) {
  constexpr auto id = [](Pooling p) { return static_cast<int64_t>(p); };
  switch (pooling_type) {
    case id(Pooling::kUnset):
    case id(Pooling::kNone):  // per-token vectors have no place in one embedding per input: mean
    case id(Pooling::kMean):
      return "mean";
    case id(Pooling::kCls):
      return "cls";
    case id(Pooling::kLast):
      return "last";
    case id(Pooling::kRank):
      return "rank";
    default:
      return strfmt("unknown (%lld)", static_cast<long long>(pooling_type));
  }
}

Result<std::vector<Embedding>> embed_inputs(const EmbedPass& pass,
                                            const std::vector<std::vector<int32_t>>& inputs,
                                            const EmbedOptions& options) {
  const models::HParams& hp = pass.model.hparams();
  const std::string pooling_str = pooling_name(pass.pooling_type);
  if (pooling_str != "mean" && pooling_str != "cls" && pooling_str != "last") {
    return make_error("embed: %s.pooling_type %lld (%s) is not supported (mean, cls and last are)",
                      hp.arch.c_str(), static_cast<long long>(pass.pooling_type), pooling_str.c_str());
  }
  const Pooling pooling = pooling_str == "cls"    ? Pooling::kCls
                          : pooling_str == "last" ? Pooling::kLast
                                                  : Pooling::kMean;
  if (options.dimensions < 0 || options.dimensions > hp.n_embd) {
    return make_error("embed: dimensions must be between 1 and the embedding length of %d, not %d", hp.n_embd,
                      options.dimensions);
  }
  if (inputs.empty()) return make_error("embed: no inputs");
  const int dims = options.dimensions > 0 ? options.dimensions : hp.n_embd;
  std::vector<std::vector<int32_t>> fitted(inputs.size());
  std::vector<Embedding> out(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto f = fit(pass, inputs[i], i, options, &out[i].truncated);
    if (!f) return f.error();
    fitted[i] = std::move(*f);
    out[i].n_tokens = static_cast<int>(fitted[i].size());
  }
  const Status st = hp.encoder ? embed_encoder(pass, pooling, fitted, dims, out)
                               : embed_decoder(pass, pooling, fitted, dims, out);
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace minnow

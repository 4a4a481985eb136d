// The pre-norm decoder stack llama, qwen2 and phi3 share: RMSNorm -> GQA attention (q/k/v biases
// where the file has them, RoPE, a sliding window where hp_.layer_window sets one) -> residual ->
// RMSNorm -> SwiGLU FFN -> residual, then RMSNorm and the output matrix. Architectures differ in how they load it (tensor names, fused matrices, RoPE
// variant and factors), which is data here; the forward pass is one code path.
#pragma once

#include <vector>

#include "models/loader.h"
#include "models/model.h"

namespace minnow::models {

// Assigns the value of a Result-returning expression to dst, or returns its error.
#define MINNOW_ASSIGN_OR_RETURN(dst, expr) \
  do {                                     \
    auto r_ = (expr);                      \
    if (!r_) return r_.error();            \
    dst = std::move(*r_);                  \
  } while (0)

struct DecoderLayer {
  std::vector<float> attn_norm;  // [n_embd]
  // [n_head*head_dim][n_embd], [n_kv_dim][n_embd] x2, [n_embd][n_head*head_dim]
  nn::Weight wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;    // [n_head*head_dim], [n_kv_dim] x2; empty: no bias
  std::vector<float> ffn_norm;      // [n_embd]
  nn::Weight w_gate, w_up, w_down;  // [n_ff][n_embd] x2, [n_embd][n_ff]
};

// A model whose forward pass is the stack above. An architecture's loader sets hp_, calls
// load_embeddings, fills layers_ (and the RoPE factors it has), then finish_load.
class Decoder : public Model {
 public:
  Status forward_batch(const nn::Compute& c, const int32_t* tokens, const int32_t* positions,
                       std::span<const SeqTokens> seqs, float* logits) const override;
  Status forward_hidden(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, int64_t n_tokens,
                        KvCache& cache, float* hidden) const override;

 protected:
  // token_embd.weight, output_norm.weight and output.weight (absent: tied to token_embd).
  Status load_embeddings(WeightLoader& w);
  // Layer il of the separate-matrix layout (attn_q/k/v/output, ffn_gate/up/down, both norms),
  // with the attn_q/k/v biases when `biases`, into layers_[il].
  Status load_layer(WeightLoader& w, int il, bool biases);
  // Weight bytes, parameters and flops per token of what was loaded.
  void finish_load(const WeightLoader& w);
  std::vector<nn::Weight*> linear_weights() override;

  // The pass both entry points make: the layer stack over the batch, then the logits the
  // sequences ask for, or (normed_hidden) every token's final normed hidden state.
  Status run(const nn::Compute& c, const int32_t* tokens, const int32_t* positions, std::span<const SeqTokens> seqs,
             bool normed_hidden, float* out) const;

  nn::Weight tok_embd_;             // [n_vocab][n_embd]
  nn::Weight output_;               // [n_vocab][n_embd], or tok_embd_ when tied
  std::vector<float> output_norm_;  // [n_embd]
  std::vector<DecoderLayer> layers_;
  // RoPE frequency divisors ([n_rot/2] each; empty: none). LongRoPE picks by the context the
  // cache was made for, as the reference does: rope_factors_ up to rope_long_after_ tokens,
  // rope_factors_long_ beyond. Files without LongRoPE leave rope_factors_long_ empty.
  std::vector<float> rope_factors_;
  std::vector<float> rope_factors_long_;
  int rope_long_after_ = 0;
};

}  // namespace minnow::models

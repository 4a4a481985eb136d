// The bert encoder on tiny random models from our own writer: every token's hidden state against
// a naive double-precision forward pass written here from the weights' values; SIMD kernels
// against scalar; inputs packed into one pass equal to each alone, bit for bit, whatever the
// thread count; causal files attend causally; and the loader's errors, the refusal to produce
// logits and out-of-range inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "models/forward_harness.h"
#include "simd_isas.h"
#include "tiny_bert.h"

namespace minnow {
namespace {

using test::TinyBertSpec;

// Hidden states [n_tokens][n_embd] of inputs packed into one forward_hidden call (each input's
// positions counting from 0), with the kernels kt on `threads` threads.
std::vector<float> run_hidden(const models::Model& m, const std::vector<std::vector<int32_t>>& inputs,
                              const kernels::KernelTable& kt = kernels::active(), int threads = 2) {
  ThreadPool pool(threads);
  nn::Scratch scratch;
  const nn::Compute c{kt, pool, nullptr, &scratch};
  std::vector<int32_t> tokens, positions;
  for (const auto& in : inputs) {
    for (size_t p = 0; p < in.size(); ++p) {
      tokens.push_back(in[p]);
      positions.push_back(static_cast<int32_t>(p));
    }
  }
  KvCache unused;
  std::vector<float> hidden(tokens.size() * m.hparams().n_embd);
  const Status st = m.forward_hidden(c, tokens.data(), positions.data(), static_cast<int64_t>(tokens.size()),
                                     unused, hidden.data());
  EXPECT_TRUE(st.ok()) << st.error().message;
  return hidden;
}

// The reference: BERT's forward pass as the math reads, in double, from the f32 weight values.
std::vector<double> reference_hidden(const TinyBertSpec& s, const test::TensorValues& w,
                                     const std::vector<int32_t>& tokens) {
  const int E = s.n_embd, F = s.n_ff, H = s.n_head, hd = E / H;
  const int n = static_cast<int>(tokens.size());
  const double eps = static_cast<double>(1e-12f);
  auto at = [&](const std::string& name) -> const std::vector<float>& { return w.at(name); };
  auto layer_norm = [&](std::vector<double>& x, const std::string& prefix) {
    const auto& g = at(prefix + ".weight");
    const auto& b = at(prefix + ".bias");
    for (int t = 0; t < n; ++t) {
      double mean = 0, var = 0;
      for (int i = 0; i < E; ++i) mean += x[t * E + i];
      mean /= E;
      for (int i = 0; i < E; ++i) var += (x[t * E + i] - mean) * (x[t * E + i] - mean);
      var /= E;
      for (int i = 0; i < E; ++i) x[t * E + i] = (x[t * E + i] - mean) / std::sqrt(var + eps) * g[i] + b[i];
    }
  };
  // y[t][r] = sum_c W[r][c] x[t][c] + bias[r]
  auto linear = [&](const std::vector<double>& x, int n_in, int n_out, const std::string& name) {
    const auto& W = at(name + ".weight");
    const auto& b = at(name + ".bias");
    std::vector<double> y(static_cast<size_t>(n) * n_out);
    for (int t = 0; t < n; ++t) {
      for (int r = 0; r < n_out; ++r) {
        double acc = b[r];
        for (int c = 0; c < n_in; ++c) acc += static_cast<double>(W[r * n_in + c]) * x[t * n_in + c];
        y[t * n_out + r] = acc;
      }
    }
    return y;
  };
  std::vector<double> x(static_cast<size_t>(n) * E);
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < E; ++i) {
      x[t * E + i] = static_cast<double>(at("token_embd.weight")[tokens[t] * E + i]) +
                     (s.n_types > 0 ? at("token_types.weight")[i] : 0.0) +
                     at("position_embd.weight")[t * E + i];
    }
  }
  layer_norm(x, "token_embd_norm");
  for (int il = 0; il < s.n_layer; ++il) {
    const std::string p = "blk." + std::to_string(il) + ".";
    const auto q = linear(x, E, E, p + "attn_q"), k = linear(x, E, E, p + "attn_k"),
               v = linear(x, E, E, p + "attn_v");
    std::vector<double> att(static_cast<size_t>(n) * E, 0.0);
    for (int t = 0; t < n; ++t) {
      for (int h = 0; h < H; ++h) {
        const int n_keys = s.causal ? t + 1 : n;
        std::vector<double> sc(n_keys);
        double mx = -INFINITY;
        for (int j = 0; j < n_keys; ++j) {
          double d = 0;
          for (int i = 0; i < hd; ++i) d += q[t * E + h * hd + i] * k[j * E + h * hd + i];
          sc[j] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, sc[j]);
        }
        double z = 0;
        for (double& e : sc) z += (e = std::exp(e - mx));
        for (int j = 0; j < n_keys; ++j)
          for (int i = 0; i < hd; ++i) att[t * E + h * hd + i] += sc[j] / z * v[j * E + h * hd + i];
      }
    }
    const auto o = linear(att, E, E, p + "attn_output");
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    layer_norm(x, p + "attn_output_norm");
    auto up = linear(x, E, F, p + "ffn_up");
    for (double& u : up) u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
    const auto down = linear(up, F, E, p + "ffn_down");
    for (size_t i = 0; i < x.size(); ++i) x[i] += down[i];
    layer_norm(x, p + "layer_output_norm");
  }
  return x;
}

const std::vector<std::vector<int32_t>> kInputs = {
    {2, 5, 6, 3},                                                                 // [CLS] hello world [SEP]
    {2, 7, 8, 9, 10, 11, 7, 12, 15, 20, 33, 41, 50, 60, 3},                       // 15 tokens
    {2,  13, 14, 3,  2,  6,  5,  40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,  // 40 tokens (> one key
                                                                                  // block)
     52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 20, 21, 22, 23, 3}};

TEST(Bert, HiddenStatesMatchDoubleReference) {
  for (bool causal : {false, true}) {
    for (int n_types : {2, 0}) {
      TinyBertSpec spec;
      spec.causal = causal;
      spec.n_types = n_types;
      test::TensorValues values;
      auto l = test::load_bytes(test::make_tiny_bert(spec, &values));
      ASSERT_TRUE(l->model);
      EXPECT_TRUE(l->model->hparams().encoder);
      for (const auto& in : kInputs) {
        const std::vector<float> got = run_hidden(*l->model, {in}, kernels::table(kernels::Isa::kScalar));
        const std::vector<double> want = reference_hidden(spec, values, in);
        // Hidden states are layer-norm outputs, O(1). The f32 rounding (u = 6e-8) of a dot product
        // of n <= 96 terms of random sign grows like sqrt(n) u = 6e-7 relative; layer norms divide
        // by deviations near 1, and two layers of about five such stages give a few 1e-6 (1.4e-6
        // seen). The worst-case n u per stage is not approached by random data. 1e-5 still fails
        // the tanh approximation of GELU (5e-4 here), and a wrong mask, bias or norm by far more.
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
        EXPECT_LE(worst, 1e-5) << in.size() << " tokens" << (causal ? ", causal" : "") << ", " << n_types
                               << " token types";
      }
    }
  }
}

TEST(Bert, SimdMatchesScalar) {
  for (DType wtype : {DType::F32, DType::F16, DType::Q8_0, DType::Q4_0}) {
    TinyBertSpec spec;
    spec.wtype = wtype;
    auto l = test::load_bytes(test::make_tiny_bert(spec));
    ASSERT_TRUE(l->model);
    const std::vector<float> scalar = run_hidden(*l->model, kInputs, kernels::table(kernels::Isa::kScalar));
    for (kernels::Isa isa : test::simd_isas()) {
      const std::vector<float> simd = run_hidden(*l->model, kInputs, kernels::table(isa));
      EXPECT_LE(test::max_rel_diff(simd, scalar), test::simd_tolerance(wtype))
          << kernels::isa_name(isa) << " " << dtype_name(wtype);
    }
  }
}

TEST(Bert, PackedInputsEqualEachAloneForEveryThreadCount) {
  for (DType wtype : {DType::F32, DType::Q8_0}) {
    TinyBertSpec spec;
    spec.wtype = wtype;
    auto l = test::load_bytes(test::make_tiny_bert(spec));
    ASSERT_TRUE(l->model);
    const int E = spec.n_embd;
    for (kernels::Isa isa : kernels::all_isas()) {
      if (!kernels::isa_available(isa)) continue;
      const kernels::KernelTable& kt = kernels::table(isa);
      std::vector<float> alone;
      for (const auto& in : kInputs) {
        const std::vector<float> h = run_hidden(*l->model, {in}, kt, 1);
        alone.insert(alone.end(), h.begin(), h.end());
      }
      for (int threads : {1, 3}) {
        EXPECT_EQ(run_hidden(*l->model, kInputs, kt, threads), alone)
            << kernels::isa_name(isa) << " " << dtype_name(wtype) << ", " << threads << " threads";
      }
      // One input's states change when another token of it changes, not when another input does.
      std::vector<std::vector<int32_t>> changed = kInputs;
      changed[0][1] = 9;
      const std::vector<float> h = run_hidden(*l->model, changed, kt);
      EXPECT_NE(std::vector<float>(h.begin(), h.begin() + 4 * E),
                std::vector<float>(alone.begin(), alone.begin() + 4 * E));
      EXPECT_EQ(std::vector<float>(h.begin() + 4 * E, h.end()),
                std::vector<float>(alone.begin() + 4 * E, alone.end()));
    }
  }
}

TEST(Bert, BidirectionalUnlessCausal) {
  for (bool causal : {false, true}) {
    TinyBertSpec spec;
    spec.causal = causal;
    auto l = test::load_bytes(test::make_tiny_bert(spec));
    ASSERT_TRUE(l->model);
    const std::vector<int32_t> a = {2, 5, 6, 7, 3}, b = {2, 5, 6, 8, 3};  // differ at token 3
    const std::vector<float> ha = run_hidden(*l->model, {a}), hb = run_hidden(*l->model, {b});
    const int E = spec.n_embd;
    // Token 1 sees token 3 only when attention goes both ways.
    const bool same_before = std::equal(ha.begin(), ha.begin() + 3 * E, hb.begin());
    EXPECT_EQ(same_before, causal);
  }
}

TEST(Bert, RefusesLogitsAndBadInputs) {
  auto l = test::load_bytes(test::make_tiny_bert({}));
  ASSERT_TRUE(l->model);
  ThreadPool pool(1);
  const nn::Compute c{kernels::active(), pool};
  KvCache unused;
  std::vector<float> out(64 * 100);
  const int32_t tokens[3] = {2, 5, 3};
  const int32_t positions[3] = {0, 1, 2};
  auto st = l->model->forward(c, tokens, positions, 3, unused, true, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("encoder"), std::string::npos) << st.error().message;

  const int32_t bad_token[3] = {2, 500, 3};
  st = l->model->forward_hidden(c, bad_token, positions, 3, unused, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("token id 500"), std::string::npos) << st.error().message;
  const int32_t skipping[3] = {0, 2, 3};
  st = l->model->forward_hidden(c, tokens, skipping, 3, unused, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("start at position 0"), std::string::npos) << st.error().message;
  const int32_t too_far[3] = {0, 1, 48};  // bert.context_length is 48
  st = l->model->forward_hidden(c, tokens, too_far, 3, unused, out.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("position 48"), std::string::npos) << st.error().message;
}

TEST(Bert, LoaderNamesWhatIsWrong) {
  TinyBertSpec spec;
  spec.drop_tensor = "blk.1.layer_output_norm.bias";
  auto err = test::load_error_of(test::make_tiny_bert(spec));
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("missing tensor 'blk.1.layer_output_norm.bias'"), std::string::npos) << *err;
  spec.drop_tensor = "position_embd.weight";
  err = test::load_error_of(test::make_tiny_bert(spec));
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("position_embd.weight"), std::string::npos) << *err;
  // No layer norm epsilon: required (BERT's is 1e-12, far from the usual 1e-5).
  spec = {};
  spec.drop_eps = true;
  err = test::load_error_of(test::make_tiny_bert(spec));
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("bert.attention.layer_norm_epsilon"), std::string::npos) << *err;
}

}  // namespace
}  // namespace minnow

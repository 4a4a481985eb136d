// The KV cache of one sequence: keys and values of every layer at the positions attention can
// still reach: every position for a global layer, a ring of its window (+ kRingChunk - 1 rows) for
// a sliding-window layer. F16 by default (half the memory traffic of attention at long contexts);
// F32 on request for differential checks against references that keep F32.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/error.h"
#include "tensor/dtype.h"

namespace minnow {

class KvCache {
 public:
  // Tokens a sliding-window layer may store before its queries attend: the ring keeps the window
  // plus this many - 1 rows, so storing a chunk never evicts a key the chunk's first query needs.
  // 32 queries x the heads are enough parallel tasks per attention pass; the extra rows cost
  // under 7% of a 512-token window (Gemma 3's smallest), nothing next to a global layer.
  static constexpr int kRingChunk = 32;

  // type: F16 or F32. n_kv_dim = n_head_kv * head_dim. windows: one per layer, 0 for a global
  // layer, W > 0 for a layer whose queries see only the last W positions; empty: all global.
  static Result<KvCache> create(int n_layer, int n_ctx, int n_kv_dim, DType type,
                                std::span<const int> windows = {});

  DType type() const { return type_; }
  int n_ctx() const { return n_ctx_; }
  int n_layer() const { return n_layer_; }
  int n_kv_dim() const { return n_kv_dim_; }
  size_t bytes() const { return k_.size() + v_.size(); }

  // The layer's window (0: global) and the rows it keeps: n_ctx, or min(n_ctx, window +
  // kRingChunk - 1) for a windowed layer, whose position p lives in row p % capacity.
  int window(int layer) const { return window_[layer]; }
  int capacity(int layer) const { return capacity_[layer]; }
  // The most consecutive positions that can be stored in the layer before attending without
  // overwriting a key the first of them still needs.
  int max_chunk(int layer) const {
    return capacity_[layer] < n_ctx_ ? capacity_[layer] - window_[layer] + 1 : n_ctx_;
  }

  // Row of keys / values at (layer, pos): n_kv_dim elements of type(). A windowed layer's row
  // for pos is shared with pos +- capacity(layer).
  uint8_t* k_row(int layer, int pos) { return k_.data() + offset(layer, pos); }
  uint8_t* v_row(int layer, int pos) { return v_.data() + offset(layer, pos); }
  const uint8_t* k_row(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const uint8_t* v_row(int layer, int pos) const { return v_.data() + offset(layer, pos); }

  // Positions [0, n_past) have been stored; a windowed layer still holds the last
  // capacity(layer) of them.
  int n_past() const { return n_past_; }
  void set_n_past(int n) { n_past_ = n; }

  // Whether the context can go back to its first n positions (n <= n_past) and continue: a
  // windowed layer must still hold the keys a query at position n sees, (n - window, n).
  bool can_rewind_to(int n) const {
    if (n == 0) return true;
    if (n > n_past_) return false;
    for (int l = 0; l < n_layer_; ++l) {
      if (capacity_[l] < n_ctx_ && n - window_[l] + 1 < n_past_ - capacity_[l]) return false;
    }
    return true;
  }

 private:
  size_t offset(int layer, int pos) const {
    return (first_row_[layer] + static_cast<size_t>(pos % capacity_[layer])) * row_bytes_;
  }
  DType type_ = DType::F16;
  int n_layer_ = 0, n_ctx_ = 0, n_kv_dim_ = 0;
  size_t row_bytes_ = 0;
  int n_past_ = 0;
  std::vector<int> window_;        // [n_layer] 0 = global
  std::vector<int> capacity_;      // [n_layer] rows kept
  std::vector<size_t> first_row_;  // [n_layer] the layer's first row in k_ / v_
  std::vector<uint8_t> k_;         // [sum of capacity][n_kv_dim] of type_
  std::vector<uint8_t> v_;         // [sum of capacity][n_kv_dim] of type_
};

}  // namespace minnow

// The KV cache of one sequence: keys and values of every layer at every position so far.
// F16 by default (half the memory traffic of attention at long contexts); F32 on request
// for differential checks against references that keep F32.
#pragma once

#include <cstdint>
#include <vector>

#include "base/error.h"
#include "tensor/dtype.h"

namespace minnow {

class KvCache {
 public:
  // type: F16 or F32. n_kv_dim = n_head_kv * head_dim.
  static Result<KvCache> create(int n_layer, int n_ctx, int n_kv_dim, DType type);

  DType type() const { return type_; }
  int n_ctx() const { return n_ctx_; }
  int n_layer() const { return n_layer_; }
  int n_kv_dim() const { return n_kv_dim_; }
  size_t bytes() const { return k_.size() + v_.size(); }

  // Row of keys / values at (layer, pos): n_kv_dim elements of type().
  uint8_t* k_row(int layer, int pos) { return k_.data() + offset(layer, pos); }
  uint8_t* v_row(int layer, int pos) { return v_.data() + offset(layer, pos); }
  const uint8_t* k_row(int layer, int pos) const { return k_.data() + offset(layer, pos); }
  const uint8_t* v_row(int layer, int pos) const { return v_.data() + offset(layer, pos); }

  // Positions [0, n_past) hold valid entries.
  int n_past() const { return n_past_; }
  void set_n_past(int n) { n_past_ = n; }

 private:
  size_t offset(int layer, int pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + pos) * row_bytes_;
  }
  DType type_ = DType::F16;
  int n_layer_ = 0, n_ctx_ = 0, n_kv_dim_ = 0;
  size_t row_bytes_ = 0;
  int n_past_ = 0;
  std::vector<uint8_t> k_;  // [n_layer][n_ctx][n_kv_dim] of type_
  std::vector<uint8_t> v_;  // [n_layer][n_ctx][n_kv_dim] of type_
};

}  // namespace minnow

// AVX-512 flash attention over the KV cache (AttnTileFn, kernel_table.h): one tile of query rows,
// the heads of a GQA group for several tokens, against one KV head, key block by key block with
// a running max and sum per row; no score matrix. Each block of K and V rows is widened from f16
// once per tile and read from L1 by every row of it (a decoding token's tile, decode(), widens
// them in registers as it reads them instead).
//
// Rows sit in vector lanes: q and the output accumulators are kept transposed ([dim][row]), so
// q.k is a vertical FMA chain over the head's dims with the key element broadcast, and the
// softmax bookkeeping of 16 rows is one vector op, with no horizontal reduction. Per row the
// arithmetic is the one kernel_table.h defines (dims in order, blocks of kAttnKeyBlock aligned
// positions, a fixed tree for a block's sum), whatever rows share the tile, so results do not
// depend on batching or the thread count.
#include "kernels/avx512/avx512_kernels.h"
#include "kernels/avx512/simd.h"

namespace minnow::kernels::avx512 {
namespace {

constexpr int kB = kAttnKeyBlock;
constexpr int kMaxVecs = kAttnTileRows / 16;

// e^v - 1 for v <= 0: e^v's reduction and polynomial (exp_ps) with the final 1 left out where
// n = 0, so small |v| keeps its digits (1 - e^v would cancel them).
inline __m512 expm1_neg_ps(__m512 v) {
  v = _mm512_max_ps(v, _mm512_set1_ps(-150.0f));
  __m512 n, r;
  const __m512 p = exp_poly(v, &n, &r);
  const __m512 q = _mm512_mul_ps(p, r);  // e^r - 1
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 big = _mm512_sub_ps(_mm512_scalef_ps(_mm512_add_ps(q, one), n), one);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_EQ_OQ), big, q);
}

// tanh(x) = sign(x) (-m / (2 + m)), m = e^(-2|x|) - 1: a few ulps, like std::tanh.
inline __m512 tanh_ps(__m512 x) {
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
  const __m512 ax = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), sign));
  const __m512 m = expm1_neg_ps(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), m), _mm512_add_ps(_mm512_set1_ps(2.0f), m));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

// Work memory of a tile of RV vectors of rows (R = 16 RV lanes), 64-byte aligned.
template <int RV>
struct TileWork {
  static constexpr int kR = 16 * RV;
  float* qt;  // [head_dim][kR] the tile's queries, transposed; padded lanes 0
  float* ot;  // [head_dim][kR] output accumulators, transposed
  float* st;  // [kB][kR] a block's scores, then its probabilities
  float* kf;  // [kB][head_dim] the block's keys widened to f32 (f16 cache)
  float* vf;  // [kB][head_dim] the block's values widened to f32 (f16 cache)
};

// st[j][r] = q_r . k_j for keys [j0, j1): each quarter of the dims an FMA chain from 0 in order,
// the quarters added in order ((q0 + q1) + q2) + q3: chains of hd/4 keep the rounding error near
// that of a 16-lane dot product (a single chain over 64 dims measurably moved a golden logit).
// KJ keys x RV vectors of accumulators (<= 24 of the 32 registers) keep both FMA ports busy.
template <int RV, int KJ>
inline int scores_keys(int64_t hd, const float* qt, const float* const* krow, int j, int j1, float* st) {
  constexpr int kR = 16 * RV;
  for (; j + KJ <= j1; j += KJ) {
    for (int quarter = 0; quarter < 4; ++quarter) {
      __m512 acc[KJ][RV];
      for (int a = 0; a < KJ; ++a)
        for (int r = 0; r < RV; ++r) acc[a][r] = _mm512_setzero_ps();
      for (int64_t d = hd * quarter / 4; d < hd * (quarter + 1) / 4; ++d) {
        __m512 qv[RV];
        for (int r = 0; r < RV; ++r) qv[r] = _mm512_load_ps(qt + d * kR + 16 * r);
        for (int a = 0; a < KJ; ++a) {
          const __m512 b = _mm512_set1_ps(krow[j + a][d]);
          for (int r = 0; r < RV; ++r) acc[a][r] = _mm512_fmadd_ps(b, qv[r], acc[a][r]);
        }
      }
      for (int a = 0; a < KJ; ++a) {
        for (int r = 0; r < RV; ++r) {
          float* sp = st + (j + a) * kR + 16 * r;
          _mm512_store_ps(sp, quarter == 0 ? acc[a][r] : _mm512_add_ps(_mm512_load_ps(sp), acc[a][r]));
        }
      }
    }
  }
  return j;
}

// ot[d][r] = ot[d][r] * factor[r] (where rescale), then FMAs of p_j v_j[d] over keys [j0, j1)
// in order, for dims [d, d + DC); masked: a lane whose row does not see key j keeps its value.
template <int RV, int DC, bool kMasked>
inline int64_t values_dims(int64_t d, int64_t hd, const float* const* vrow, int j0, int j1, const float* st,
                           const __mmask16 (*km)[kMaxVecs], const __m512* factor, float* ot) {
  constexpr int kR = 16 * RV;
  for (; d + DC <= hd; d += DC) {
    __m512 acc[DC][RV];
    for (int c = 0; c < DC; ++c)
      for (int r = 0; r < RV; ++r) {
        acc[c][r] = _mm512_load_ps(ot + (d + c) * kR + 16 * r);
        if (factor) acc[c][r] = _mm512_mul_ps(acc[c][r], factor[r]);
      }
    for (int j = j0; j < j1; ++j) {
      __m512 pv[RV];
      for (int r = 0; r < RV; ++r) pv[r] = _mm512_load_ps(st + j * kR + 16 * r);
      for (int c = 0; c < DC; ++c) {
        const __m512 b = _mm512_set1_ps(vrow[j][d + c]);
        for (int r = 0; r < RV; ++r)
          acc[c][r] = kMasked ? _mm512_mask3_fmadd_ps(b, pv[r], acc[c][r], km[j][r])
                              : _mm512_fmadd_ps(b, pv[r], acc[c][r]);
      }
    }
    for (int c = 0; c < DC; ++c)
      for (int r = 0; r < RV; ++r) _mm512_store_ps(ot + (d + c) * kR + 16 * r, acc[c][r]);
  }
  return d;
}

template <int RV, bool kMasked>
inline void values_block(int64_t hd, const float* const* vrow, int j0, int j1, const float* st,
                         const __mmask16 (*km)[kMaxVecs], const __m512* factor, float* ot) {
  constexpr int kDc = 24 / RV > 16 ? 16 : 24 / RV;
  const int64_t d = values_dims<RV, kDc, kMasked>(0, hd, vrow, j0, j1, st, km, factor, ot);
  values_dims<RV, 1, kMasked>(d, hd, vrow, j0, j1, st, km, factor, ot);
}

template <int RV, class E>
void tile(const AttnTile<E>& a, float* work) {
  constexpr int kR = 16 * RV;
  const int64_t hd = a.head_dim;
  const int n_rows = a.n_tokens * a.n_heads;
  float* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(work) + 63) & ~uintptr_t{63});
  const TileWork<RV> w{base, base + hd * kR, base + 2 * hd * kR, base + 2 * hd * kR + kB * kR,
                       base + 2 * hd * kR + kB * kR + kB * hd};

  // Each lane's key range; padded lanes (zero queries) take the tile's whole range, so they
  // never mask a block that is whole for every real row.
  alignas(64) int32_t first[kR], last[kR];
  int32_t lo = a.first[0], hi = a.last[0];
  for (int t = 0; t < a.n_tokens; ++t) {
    lo = a.first[t] < lo ? a.first[t] : lo;
    hi = a.last[t] > hi ? a.last[t] : hi;
  }
  for (int r = 0; r < kR; ++r) {
    first[r] = r < n_rows ? a.first[r / a.n_heads] : lo;
    last[r] = r < n_rows ? a.last[r / a.n_heads] : hi;
  }
  for (int r = 0; r < kR; ++r) {
    if (r >= n_rows) {
      for (int64_t d = 0; d < hd; ++d) w.qt[d * kR + r] = 0.0f;
      continue;
    }
    const float* qr = a.q + (r / a.n_heads) * a.q_stride + (r % a.n_heads) * hd;
    for (int64_t d = 0; d < hd; ++d) w.qt[d * kR + r] = qr[d];
  }
  for (int64_t i = 0; i < hd * kR; i += 16) _mm512_store_ps(w.ot + i, _mm512_setzero_ps());

  __m512 m[RV], l[RV], factor[RV];
  for (int r = 0; r < RV; ++r) {
    m[r] = _mm512_set1_ps(-__builtin_inff());
    l[r] = _mm512_setzero_ps();
  }
  const __m512 scale = _mm512_set1_ps(a.scale), cap = _mm512_set1_ps(a.softcap);
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  __mmask16 km[kB][kMaxVecs];
  const float* krow[kB];
  const float* vrow[kB];

  for (int32_t kb0 = lo - lo % kB; kb0 <= hi; kb0 += kB) {
    const int j0 = lo > kb0 ? lo - kb0 : 0;
    const int j1 = hi - kb0 + 1 < kB ? hi - kb0 + 1 : kB;
    for (int j = j0; j < j1; ++j) {
      const int64_t row = static_cast<int64_t>((kb0 + j) % a.ring) * a.kv_stride;
      if constexpr (sizeof(E) == 2) {
        for (int64_t c = 0; c < hd; c += 16) {
          const __mmask16 mk = hd - c >= 16 ? static_cast<__mmask16>(0xffff)
                                            : static_cast<__mmask16>((1u << (hd - c)) - 1);
          _mm512_mask_storeu_ps(w.kf + j * hd + c, mk,
                                _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, a.k + row + c)));
          _mm512_mask_storeu_ps(w.vf + j * hd + c, mk,
                                _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, a.v + row + c)));
        }
        krow[j] = w.kf + j * hd;
        vrow[j] = w.vf + j * hd;
      } else {
        krow[j] = a.k + row;
        vrow[j] = a.v + row;
      }
    }
    // Whole: every row sees every key of [j0, j1), so no lane needs a mask.
    bool whole = true;
    for (int r = 0; r < kR; ++r) whole = whole && first[r] <= kb0 + j0 && last[r] >= kb0 + j1 - 1;

    constexpr int kKj = 24 / RV > 8 ? 8 : 24 / RV;
    const int j = scores_keys<RV, kKj>(hd, w.qt, krow, j0, j1, w.st);
    scores_keys<RV, 1>(hd, w.qt, krow, j, j1, w.st);

    bool rescale = false;
    for (int r = 0; r < RV; ++r) {
      const __m512i fv = _mm512_load_si512(first + 16 * r), lv = _mm512_load_si512(last + 16 * r);
      __m512 mb = neg_inf;
      for (int jj = j0; jj < j1; ++jj) {
        float* sp = w.st + jj * kR + 16 * r;
        __m512 x = _mm512_mul_ps(_mm512_load_ps(sp), scale);
        if (a.softcap > 0) x = _mm512_mul_ps(cap, tanh_ps(_mm512_div_ps(x, cap)));
        if (!whole) {
          const __m512i pos = _mm512_set1_epi32(kb0 + jj);
          km[jj][r] = _mm512_cmp_epi32_mask(fv, pos, _MM_CMPINT_LE) & _mm512_cmp_epi32_mask(pos, lv, _MM_CMPINT_LE);
          x = _mm512_mask_mov_ps(neg_inf, km[jj][r], x);
        }
        _mm512_store_ps(sp, x);
        mb = _mm512_max_ps(mb, x);
      }
      const __m512 mn = _mm512_max_ps(m[r], mb);
      const __mmask16 grow = _mm512_cmp_ps_mask(mn, m[r], _CMP_GT_OQ);
      factor[r] = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), grow, exp_ps(_mm512_sub_ps(m[r], mn)));
      rescale = rescale || grow != 0;
      m[r] = mn;
      // p_j = e^(x_j - m); 0 outside the block's keys or the row's range. The block's sum is the
      // tree (j, j + 16), (j, j + 8), ... over kB = 32 slots, whatever part of it the tile covers.
      __m512 p[kB];
      for (int jj = 0; jj < kB; ++jj) {
        if (jj < j0 || jj >= j1) {
          p[jj] = _mm512_setzero_ps();
          continue;
        }
        float* sp = w.st + jj * kR + 16 * r;
        p[jj] = exp_ps(_mm512_sub_ps(_mm512_load_ps(sp), mn));
        if (!whole) p[jj] = _mm512_maskz_mov_ps(km[jj][r], p[jj]);
        _mm512_store_ps(sp, p[jj]);
      }
      for (int half = kB / 2; half >= 1; half /= 2)
        for (int jj = 0; jj < half; ++jj) p[jj] = _mm512_add_ps(p[jj], p[jj + half]);
      l[r] = _mm512_add_ps(_mm512_mul_ps(l[r], factor[r]), p[0]);
    }
    if (whole) {
      values_block<RV, false>(hd, vrow, j0, j1, w.st, km, rescale ? factor : nullptr, w.ot);
    } else {
      values_block<RV, true>(hd, vrow, j0, j1, w.st, km, rescale ? factor : nullptr, w.ot);
    }
  }

  for (int r = 0; r < RV; ++r) {
    for (int64_t d = 0; d < hd; ++d) {
      float* op = w.ot + d * kR + 16 * r;
      _mm512_store_ps(op, _mm512_div_ps(_mm512_load_ps(op), l[r]));
    }
  }
  for (int r = 0; r < n_rows; ++r) {
    float* orow = a.out + (r / a.n_heads) * a.q_stride + (r % a.n_heads) * hd;
    for (int64_t d = 0; d < hd; ++d) orow[d] = w.ot[d * kR + r];
  }
}

// r[i] holds 16 dims of key i; on return r[k] holds dim k of the 16 keys.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  __m512 u[16];  // u[4g + c]: keys 4g..4g+3 of dims c, c + 4, c + 8, c + 12 in the 128-bit lanes
  for (int g = 0; g < 4; ++g) {
    u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[c + 4] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[c + 8] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

// Scores of NH heads of one token against the block's 32 keys, keys in lanes: s[h][0..1] =
// q_h . k_j for keys j and j + 16, the arithmetic of scores_keys (quarters of FMA chains).
template <int NH>
inline void decode_scores(int64_t hd, const float* q, const float* kt, __m512 (*s)[2]) {
  for (int quarter = 0; quarter < 4; ++quarter) {
    __m512 acc[NH][2];
    for (int h = 0; h < NH; ++h) acc[h][0] = acc[h][1] = _mm512_setzero_ps();
    for (int64_t d = hd * quarter / 4; d < hd * (quarter + 1) / 4; ++d) {
      const __m512 k0 = _mm512_load_ps(kt + d * kB), k1 = _mm512_load_ps(kt + d * kB + 16);
      for (int h = 0; h < NH; ++h) {
        const __m512 qb = _mm512_set1_ps(q[h * hd + d]);
        acc[h][0] = _mm512_fmadd_ps(qb, k0, acc[h][0]);
        acc[h][1] = _mm512_fmadd_ps(qb, k1, acc[h][1]);
      }
    }
    for (int h = 0; h < NH; ++h) {
      s[h][0] = quarter == 0 ? acc[h][0] : _mm512_add_ps(s[h][0], acc[h][0]);
      s[h][1] = quarter == 0 ? acc[h][1] : _mm512_add_ps(s[h][1], acc[h][1]);
    }
  }
}

inline void decode_scores_any(int nh, int64_t hd, const float* q, const float* kt, __m512 (*s)[2]) {
  for (int h = 0; h < nh; h += 8) {
    switch (nh - h < 8 ? nh - h : 8) {
      case 1: decode_scores<1>(hd, q + h * hd, kt, s + h); break;
      case 2: decode_scores<2>(hd, q + h * hd, kt, s + h); break;
      case 3: decode_scores<3>(hd, q + h * hd, kt, s + h); break;
      case 4: decode_scores<4>(hd, q + h * hd, kt, s + h); break;
      case 5: decode_scores<5>(hd, q + h * hd, kt, s + h); break;
      case 6: decode_scores<6>(hd, q + h * hd, kt, s + h); break;
      case 7: decode_scores<7>(hd, q + h * hd, kt, s + h); break;
      default: decode_scores<8>(hd, q + h * hd, kt, s + h); break;
    }
  }
}

// 16 elements (mask mk) of a K or V row from the cache, as floats.
template <class E>
[[gnu::always_inline]] inline __m512 load_kv(const E* p, __mmask16 mk) {
  if constexpr (sizeof(E) == 2) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, p));
  } else {
    return _mm512_maskz_loadu_ps(mk, p);
  }
}

// Decoding's value step for the heads [h0, h0 + nh) (nh <= kH) and NC vectors of dims from c:
// o = o * factor + sum over the block's keys j in order of p_j * v_j, one FMA chain per element
// as tile() has it. Keys outer, so each value row is read from the cache once for all heads.
template <int NC, class E>
void decode_values(const E* v, const int64_t* row, int j0, int j1, int64_t c, int64_t hd, int h0, int nh,
                   const float* ps, const float* factor, float* out) {
  constexpr int kH = 24 / NC;
  __mmask16 mk[NC];
  for (int i = 0; i < NC; ++i) {
    const int64_t rem = hd - c - 16 * i;
    mk[i] = rem >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << rem) - 1);
  }
  for (int g = 0; g < nh; g += kH) {
    const int hn = nh - g < kH ? nh - g : kH;
    __m512 acc[kH][NC];
#pragma GCC unroll 24
    for (int h = 0; h < kH; ++h) {
      if (h >= hn) continue;
      const float* o = out + (h0 + g + h) * hd + c;
      const __m512 f = _mm512_set1_ps(factor[h0 + g + h]);
#pragma GCC unroll 8
      for (int i = 0; i < NC; ++i) {
        acc[h][i] = _mm512_maskz_loadu_ps(mk[i], o + 16 * i);
        if (factor[h0 + g + h] != 1.0f) acc[h][i] = _mm512_mul_ps(acc[h][i], f);
      }
    }
    for (int j = j0; j < j1; ++j) {
      __m512 vj[NC];
#pragma GCC unroll 8
      for (int i = 0; i < NC; ++i) vj[i] = load_kv(v + row[j] + c + 16 * i, mk[i]);
#pragma GCC unroll 24
      for (int h = 0; h < kH; ++h) {
        if (h >= hn) continue;
        const __m512 pj = _mm512_set1_ps(ps[(h0 + g + h) * kB + j]);
#pragma GCC unroll 8
        for (int i = 0; i < NC; ++i) acc[h][i] = _mm512_fmadd_ps(pj, vj[i], acc[h][i]);
      }
    }
#pragma GCC unroll 24
    for (int h = 0; h < kH; ++h) {
      if (h >= hn) continue;
      float* o = out + (h0 + g + h) * hd + c;
#pragma GCC unroll 8
      for (int i = 0; i < NC; ++i) _mm512_mask_storeu_ps(o + 16 * i, mk[i], acc[h][i]);
    }
  }
}

// Decoding: one token's heads (at most 16) with keys in lanes, each block's keys transposed to
// [dim][key]; rows in lanes would leave 16 - n_heads lanes idle. Keys and values are read
// straight from the cache (widened in registers): a decoding batch's caches are far larger than
// the core's caches, and a copy would add a store and a load per element. Per row the
// arithmetic is tile()'s (the same operations in the same order; the tests compare the two bit
// for bit).
template <class E>
void decode(const AttnTile<E>& a, float* work) {
  const int64_t hd = a.head_dim;
  const int nh = a.n_heads;
  float* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(work) + 63) & ~uintptr_t{63});
  float* kt = base;                // [hd][kB] the block's keys transposed
  float* ps = base + 2 * hd * 16;  // [nh][kB] probabilities
  const int32_t lo = a.first[0], hi = a.last[0];
  float m[16], l[16], factor[16];
  for (int h = 0; h < nh; ++h) {
    m[h] = -__builtin_inff();
    l[h] = 0.0f;
    for (int64_t d = 0; d < hd; ++d) a.out[h * hd + d] = 0.0f;
  }
  const __m512 scale = _mm512_set1_ps(a.scale), cap = _mm512_set1_ps(a.softcap);
  const __m512 neg_inf = _mm512_set1_ps(-__builtin_inff());
  int64_t row[kB];  // the block's rows' offsets in the cache
  __m512 s[16][2];
  for (int32_t kb0 = lo - lo % kB; kb0 <= hi; kb0 += kB) {
    const int j0 = lo > kb0 ? lo - kb0 : 0;
    const int j1 = hi - kb0 + 1 < kB ? hi - kb0 + 1 : kB;
    for (int j = j0; j < j1; ++j) row[j] = static_cast<int64_t>((kb0 + j) % a.ring) * a.kv_stride;
    for (int half = 0; half < 2; ++half) {
      for (int64_t c = 0; c < hd; c += 16) {
        const __mmask16 mk = hd - c >= 16 ? static_cast<__mmask16>(0xffff)
                                          : static_cast<__mmask16>((1u << (hd - c)) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; ++i) {
          const int j = 16 * half + i;
          r[i] = j >= j0 && j < j1 ? load_kv(a.k + row[j] + c, mk) : _mm512_setzero_ps();
        }
        transpose16(r);
        for (int i = 0; i < 16 && c + i < hd; ++i) _mm512_store_ps(kt + (c + i) * kB + 16 * half, r[i]);
      }
    }
    const uint32_t valid = (j1 - j0 == 32 ? ~0u : ((1u << (j1 - j0)) - 1)) << j0;
    const __mmask16 vm[2] = {static_cast<__mmask16>(valid), static_cast<__mmask16>(valid >> 16)};
    decode_scores_any(nh, hd, a.q, kt, s);
    for (int h = 0; h < nh; ++h) {
      __m512 x[2];
      __m512 mbv = neg_inf;
      for (int i = 0; i < 2; ++i) {
        x[i] = _mm512_mul_ps(s[h][i], scale);
        if (a.softcap > 0) x[i] = _mm512_mul_ps(cap, tanh_ps(_mm512_div_ps(x[i], cap)));
        x[i] = _mm512_mask_mov_ps(neg_inf, vm[i], x[i]);
        mbv = _mm512_max_ps(mbv, x[i]);
      }
      const float mb = _mm512_reduce_max_ps(mbv);
      const float mn = m[h] > mb ? m[h] : mb;
      factor[h] = 1.0f;
      if (mn > m[h]) factor[h] = _mm_cvtss_f32(_mm512_castps512_ps128(exp_ps(_mm512_set1_ps(m[h] - mn))));
      m[h] = mn;
      const __m512 mv = _mm512_set1_ps(mn);
      const __m512 p0 = _mm512_maskz_mov_ps(vm[0], exp_ps(_mm512_sub_ps(x[0], mv)));
      const __m512 p1 = _mm512_maskz_mov_ps(vm[1], exp_ps(_mm512_sub_ps(x[1], mv)));
      _mm512_store_ps(ps + h * kB, p0);
      _mm512_store_ps(ps + h * kB + 16, p1);
      // tile()'s tree: (j, j + 16), (j, j + 8), (j, j + 4), (j, j + 2), (j, j + 1).
      const __m512 t16 = _mm512_add_ps(p0, p1);
      const __m256 t8 = _mm256_add_ps(_mm512_castps512_ps256(t16),
                                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t16), 1)));
      const __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
      const __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
      const float t1 = _mm_cvtss_f32(t2) + _mm_cvtss_f32(_mm_shuffle_ps(t2, t2, 1));
      l[h] = l[h] * factor[h] + t1;
    }
    for (int64_t c = 0; c < hd; c += 128) {
      switch ((hd - c + 15) / 16 < 8 ? (hd - c + 15) / 16 : 8) {
        case 1: decode_values<1>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 2: decode_values<2>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 3: decode_values<3>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 4: decode_values<4>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 5: decode_values<5>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 6: decode_values<6>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        case 7: decode_values<7>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
        default: decode_values<8>(a.v, row, j0, j1, c, hd, 0, nh, ps, factor, a.out); break;
      }
    }
  }
  for (int h = 0; h < nh; ++h)
    for (int64_t d = 0; d < hd; ++d) a.out[h * hd + d] /= l[h];
}

template <class E>
void tile_any(const AttnTile<E>& a, float* work) {
  if (a.n_tokens == 1 && a.n_heads <= 16) return decode(a, work);
  switch ((a.n_tokens * a.n_heads + 15) / 16) {
    case 1: return tile<1>(a, work);
    case 2: return tile<2>(a, work);
    case 3: return tile<3>(a, work);
    case 4: return tile<4>(a, work);
    case 5: return tile<5>(a, work);
    case 6: return tile<6>(a, work);
    case 7: return tile<7>(a, work);
    default: return tile<8>(a, work);
  }
}

}  // namespace

void attn_tile_f16(const AttnTile<uint16_t>& a, float* work) {
  tile_any(a, work);
}
void attn_tile_f32(const AttnTile<float>& a, float* work) {
  tile_any(a, work);
}

}  // namespace minnow::kernels::avx512

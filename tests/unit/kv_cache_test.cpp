// The KV cache's layout: global layers keep a row per position of the context, windowed layers
// a ring of window + kRingChunk - 1 rows that positions share modulo its size; no two layers or
// live positions share a row; and bad shapes are refused with the reason.
#include "kv/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

namespace minnow {
namespace {

TEST(KvCache, GlobalLayersKeepEveryPosition) {
  auto c = KvCache::create(2, 50, 8, DType::F32);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->bytes(), size_t{2} * 2 * 50 * 8 * 4);
  for (int il = 0; il < 2; ++il) {
    EXPECT_EQ(c->window(il), 0);
    EXPECT_EQ(c->capacity(il), 50);
    EXPECT_EQ(c->max_chunk(il), 50);
  }
  std::set<const uint8_t*> rows;
  for (int il = 0; il < 2; ++il) {
    for (int p = 0; p < 50; ++p) rows.insert(c->k_row(il, p));
  }
  EXPECT_EQ(rows.size(), 100u);
}

TEST(KvCache, WindowedLayersKeepARing) {
  const int w = 5, ring = w + KvCache::kRingChunk - 1;
  const std::vector<int> windows = {w, 0, w};
  auto c = KvCache::create(3, 1000, 4, DType::F16, windows);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->capacity(0), ring);
  EXPECT_EQ(c->capacity(1), 1000);
  EXPECT_EQ(c->capacity(2), ring);
  EXPECT_EQ(c->window(2), w);
  EXPECT_EQ(c->bytes(), size_t{2} * (2 * ring + 1000) * 4 * 2);
  // A chunk of kRingChunk positions stored after p leaves p's window intact: p - w + 1 and
  // p + kRingChunk - 1 are ring - 1 apart, so they have different rows.
  EXPECT_EQ(c->max_chunk(0), KvCache::kRingChunk);
  EXPECT_EQ(c->max_chunk(1), 1000);

  // Write each position's number into its row, in order; the last `ring` positions written
  // must all read back, earlier ones are overwritten by p + ring.
  for (int p = 0; p < 200; ++p) {
    for (int il = 0; il < 3; ++il) {
      const uint16_t v = static_cast<uint16_t>(p * 3 + il);
      std::memcpy(c->k_row(il, p), &v, sizeof v);
      std::memcpy(c->v_row(il, p) + 6, &v, sizeof v);
    }
  }
  for (int il = 0; il < 3; ++il) {
    const int kept = il == 1 ? 200 : ring;
    for (int p = 200 - kept; p < 200; ++p) {
      uint16_t k = 0, v = 0;
      std::memcpy(&k, c->k_row(il, p), sizeof k);
      std::memcpy(&v, c->v_row(il, p) + 6, sizeof v);
      EXPECT_EQ(k, p * 3 + il) << "layer " << il << " position " << p;
      EXPECT_EQ(v, p * 3 + il) << "layer " << il << " position " << p;
    }
  }
  EXPECT_EQ(c->k_row(0, 7), c->k_row(0, 7 + ring));
  EXPECT_NE(c->k_row(0, 7), c->k_row(0, 7 + ring - 1));
}

TEST(KvCache, WindowNoSmallerThanTheContextIsNoRing) {
  const std::vector<int> windows = {64, 40};
  auto c = KvCache::create(2, 48, 4, DType::F16, windows);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->capacity(0), 48);
  EXPECT_EQ(c->capacity(1), 48);  // 40 + 31 rows would exceed the context
  EXPECT_EQ(c->max_chunk(1), 48);
}

TEST(KvCache, RefusesBadShapes) {
  const std::vector<int> two = {4, 4}, negative = {4, -1, 0};
  auto e = KvCache::create(3, 16, 4, DType::F16, two);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("2 layer windows for 3 layers"), std::string::npos) << e.error().message;
  e = KvCache::create(3, 16, 4, DType::F16, negative);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("layer 1 has a negative window"), std::string::npos) << e.error().message;
  e = KvCache::create(3, 16, 4, DType::Q8_0);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("f16 or f32"), std::string::npos);
  e = KvCache::create(0, 16, 4, DType::F16);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("bad shape"), std::string::npos);
}

}  // namespace
}  // namespace minnow

// Byte-level BPE encoding and decoding. Merges are looked up by the pair of symbol ids in a flat
// hash table, words repeat so each call caches piece -> ids, and merging follows Hugging Face's
// order exactly: the lowest rank first, the leftmost pair among equal ranks.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>

#include "tokenizer/utf8.h"

namespace minnow::tok {
namespace {

constexpr int32_t kNoRank = std::numeric_limits<int32_t>::max();
constexpr int32_t kDead = -2;  // a heap-path symbol merged into its left neighbour

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 take
// U+0100.. in byte order, so every byte is one visible character of at most two UTF-8 bytes.
constexpr std::array<uint16_t, 256> kByteToCp = [] {
  std::array<uint16_t, 256> t{};
  uint16_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    t[static_cast<size_t>(b)] = printable ? static_cast<uint16_t>(b) : next++;
  }
  return t;
}();
constexpr size_t kCpLimit = 256 + 68;
constexpr std::array<int16_t, kCpLimit> kCpToByte = [] {
  std::array<int16_t, kCpLimit> t{};
  t.fill(-1);
  for (int b = 0; b < 256; ++b) t[kByteToCp[static_cast<size_t>(b)]] = static_cast<int16_t>(b);
  return t;
}();

void append_byte_char(uint8_t b, std::string& out) {
  const uint16_t cp = kByteToCp[b];
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

struct Merge {
  int32_t rank = kNoRank;
  int32_t id = -1;  // the merged token
};

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

// Open addressing with linear probing: one multiply and usually one cache line per lookup,
// against std::unordered_map's node chase (the lookup is the inner loop of merging).
struct BpeModel::MergeTable {
  static constexpr uint64_t kEmpty = ~0ull;  // ids are non-negative int32, never this
  std::vector<uint64_t> keys;
  std::vector<Merge> values;
  uint64_t mask = 0;
  int shift = 64;

  explicit MergeTable(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;  // load factor <= 1/2
    keys.assign(cap, kEmpty);
    values.resize(cap);
    mask = cap - 1;
    shift = 64 - __builtin_ctzll(cap);
  }
  size_t slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift); }

  void insert(uint64_t key, Merge m) {  // the first insert of a key wins: it has the lower rank
    for (size_t i = slot(key);; i = (i + 1) & mask) {
      if (keys[i] == key) return;
      if (keys[i] == kEmpty) {
        keys[i] = key;
        values[i] = m;
        return;
      }
    }
  }
  Merge find(int32_t left, int32_t right) const {
    if (left < 0 || right < 0) return {};
    const uint64_t key = pair_key(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask) {
      if (keys[i] == key) return values[i];
      if (keys[i] == kEmpty) return {};
    }
  }
};

struct BpeModel::Scratch {
  std::vector<int32_t> ids;  // [n symbols] the current symbols of the word
  std::vector<Merge> pairs;  // [n - 1] scan path: the merge of ids[i] and ids[i + 1]
  struct Node {
    int32_t id, prev, next;
  };
  std::vector<Node> nodes;  // heap path: a linked list over the original symbol positions
  struct Candidate {
    int32_t rank, left, right, left_id, right_id, merged;
  };
  std::vector<Candidate> heap;
  std::string mapped;  // the word in byte-level characters (ignore_merges lookup)
};

void apply_bpe_defaults(VocabSpec& spec) {
  for (std::optional<int64_t>* id : {&spec.bos_id, &spec.eos_id, &spec.unk_id}) {
    if (!*id) *id = -1;  // how converters write "none"
  }
  if (!spec.add_bos) spec.add_bos = pre_traits(spec.pre).add_bos;
  if (!spec.add_space_prefix) spec.add_space_prefix = false;
}

BpeModel::BpeModel(const Vocab& vocab, PreTokenizer pre, BpeOptions options)
    : vocab_(vocab), pre_(std::move(pre)), options_(options) {}

BpeModel::~BpeModel() = default;

Result<std::unique_ptr<BpeModel>> BpeModel::create(const Vocab& vocab, std::string_view pre,
                                                   const std::vector<std::string>* merges,
                                                   BpeOptions options) {
  if (!merges) return make_error("tokenizer: gpt2 vocabulary without tokenizer.ggml.merges");
  if (merges->size() >= static_cast<size_t>(kNoRank)) {
    return make_error("tokenizer: tokenizer.ggml.merges has %zu entries, too many", merges->size());
  }
  auto pretok = PreTokenizer::create(pre);
  if (!pretok.ok()) return pretok.error();
  std::unique_ptr<BpeModel> m(new BpeModel(vocab, std::move(pretok).value(), options));

  // Only the model's own tokens take part: user-defined ones are matched in the raw text
  // before BPE runs (DeepSeek's "À"-like ones would otherwise stand for byte 0xC0 and decode
  // as "À"), and Hugging Face's BPE does not see added tokens either.
  auto id_of = [&](std::string_view text) {
    auto it = vocab.piece_to_id.find(text);
    if (it == vocab.piece_to_id.end()) return -1;
    const TokenType t = vocab.type(it->second);
    return t == TokenType::kNormal || t == TokenType::kUndefined ? it->second : -1;
  };
  std::string scratch;
  for (int b = 0; b < 256; ++b) {
    scratch.clear();
    append_byte_char(static_cast<uint8_t>(b), scratch);
    m->byte_id_[static_cast<size_t>(b)] = id_of(scratch);
  }

  m->merges_ = std::make_unique<MergeTable>(merges->size());
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const std::string_view line = (*merges)[rank];
    // From 1: a token may itself begin with a space in vocabularies that are not byte-level.
    const size_t sep = line.find(' ', 1);
    if (sep == std::string_view::npos || sep + 1 >= line.size()) {
      return make_error(
          "tokenizer: tokenizer.ggml.merges[%zu] = '%s': expected two tokens separated by a space", rank,
          std::string(line.substr(0, 64)).c_str());
    }
    const int32_t left = id_of(line.substr(0, sep));
    const int32_t right = id_of(line.substr(sep + 1));
    scratch.assign(line.substr(0, sep));
    scratch.append(line.substr(sep + 1));
    const int32_t merged = id_of(scratch);
    if (left < 0 || right < 0 || merged < 0) continue;
    m->merges_->insert(pair_key(left, right), {static_cast<int32_t>(rank), merged});
  }
  return m;
}

void BpeModel::encode(std::string_view text, bool /*at_start*/, std::vector<int32_t>& out) const {
  std::vector<std::string_view> pieces;
  pre_.split(text, pieces);
  Scratch s;
  // Piece -> [begin, end) of its ids in out, for this call only: text repeats words heavily,
  // and a per-call cache needs no lock and cannot grow past the input.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  for (std::string_view piece : pieces) {
    if (piece.size() == 1) {  // cheaper than a cache lookup
      encode_word(piece, s, out);
      continue;
    }
    if (auto it = cache.find(piece); it != cache.end()) {
      for (size_t i = it->second.first; i < it->second.second; ++i) {
        const int32_t id = out[i];  // copied first: push_back may reallocate
        out.push_back(id);
      }
      continue;
    }
    const size_t begin = out.size();
    encode_word(piece, s, out);
    cache.emplace(piece, std::make_pair(begin, out.size()));
  }
}

void BpeModel::encode_word(std::string_view word, Scratch& s, std::vector<int32_t>& out) const {
  if (pre_.traits().ignore_merges && word.size() > 1) {
    s.mapped.clear();
    for (char c : word) append_byte_char(static_cast<uint8_t>(c), s.mapped);
    auto it = vocab_.piece_to_id.find(s.mapped);
    if (it != vocab_.piece_to_id.end() && vocab_.type(it->second) == TokenType::kNormal) {
      out.push_back(it->second);
      return;
    }
  }
  s.ids.clear();
  for (char c : word) s.ids.push_back(byte_id_[static_cast<uint8_t>(c)]);
  if (s.ids.size() > 1) {
    if (s.ids.size() <= options_.max_scan_word) {
      merge_by_scan(s);
    } else {
      merge_by_heap(s);
    }
  }
  for (int32_t id : s.ids) {
    if (id >= 0) {
      out.push_back(id);
    } else if (vocab_.unk >= 0) {
      out.push_back(vocab_.unk);
    }
  }
}

void BpeModel::merge_by_scan(Scratch& s) const {
  std::vector<int32_t>& ids = s.ids;
  std::vector<Merge>& pairs = s.pairs;
  pairs.clear();
  for (size_t i = 0; i + 1 < ids.size(); ++i) pairs.push_back(merges_->find(ids[i], ids[i + 1]));
  while (!pairs.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < pairs.size(); ++i) {
      if (pairs[i].rank < pairs[best].rank) best = i;  // strict: the leftmost of equal ranks
    }
    if (pairs[best].rank == kNoRank) break;
    ids[best] = pairs[best].id;
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(best));
    if (best < pairs.size()) pairs[best] = merges_->find(ids[best], ids[best + 1]);
    if (best > 0) pairs[best - 1] = merges_->find(ids[best - 1], ids[best]);
  }
}

void BpeModel::merge_by_heap(Scratch& s) const {
  const auto n = static_cast<int32_t>(s.ids.size());
  auto& nodes = s.nodes;
  nodes.clear();
  for (int32_t i = 0; i < n; ++i)
    nodes.push_back({s.ids[static_cast<size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1});
  // std heap functions build a max-heap; "less" here means a later merge.
  auto later = [](const Scratch::Candidate& a, const Scratch::Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  auto& heap = s.heap;
  heap.clear();
  auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const int32_t lid = nodes[static_cast<size_t>(left)].id, rid = nodes[static_cast<size_t>(right)].id;
    const Merge m = merges_->find(lid, rid);
    if (m.rank == kNoRank) return;
    heap.push_back({m.rank, left, right, lid, rid, m.id});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Scratch::Candidate c = heap.back();
    heap.pop_back();
    Scratch::Node& l = nodes[static_cast<size_t>(c.left)];
    Scratch::Node& r = nodes[static_cast<size_t>(c.right)];
    // Stale when either side has merged since: a merge changes the survivor's id (the merged
    // text differs from both halves) and marks the absorbed symbol dead.
    if (l.id != c.left_id || r.id != c.right_id || l.next != c.right) continue;
    l.id = c.merged;
    r.id = kDead;
    l.next = r.next;
    if (r.next >= 0) nodes[static_cast<size_t>(r.next)].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }
  s.ids.clear();
  for (int32_t i = 0; i >= 0; i = nodes[static_cast<size_t>(i)].next)
    s.ids.push_back(nodes[static_cast<size_t>(i)].id);
}

void BpeModel::append_piece(int32_t id, std::string& out) const {
  const auto i = static_cast<size_t>(id);
  if (vocab_.types[i] == TokenType::kByte && vocab_.token_byte[i] >= 0) {
    out += static_cast<char>(vocab_.token_byte[i]);
    return;
  }
  const std::string_view text = vocab_.tokens[i];
  for (size_t pos = 0; pos < text.size();) {
    const utf8::ScanResult r = utf8::scan(text.substr(pos));
    const size_t len = r.status == utf8::Scan::kValid ? r.len : 1;
    uint32_t cp = kCpLimit;
    if (r.status == utf8::Scan::kValid && len == 1) {
      cp = static_cast<uint8_t>(text[pos]);
    } else if (r.status == utf8::Scan::kValid && len == 2) {
      cp = (static_cast<uint32_t>(text[pos] & 0x1F) << 6) | static_cast<uint32_t>(text[pos + 1] & 0x3F);
    }
    if (cp < kCpLimit && kCpToByte[cp] >= 0) {
      out += static_cast<char>(kCpToByte[cp]);
    } else {
      out.append(text.substr(pos, len));
    }
    pos += len;
  }
}

}  // namespace minnow::tok

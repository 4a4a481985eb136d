// Reads the tokenizer.ggml.* metadata into a VocabSpec and validates it into a Vocab. Every
// count and id comes from the file, so each is checked before it indexes anything.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "gguf/gguf.h"

namespace minnow::tok {
namespace {

constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kScores = "tokenizer.ggml.scores";
constexpr std::string_view kTypes = "tokenizer.ggml.token_type";
constexpr std::string_view kPre = "tokenizer.ggml.pre";
constexpr std::string_view kMerges = "tokenizer.ggml.merges";

Error prefixed(const Error& e) {
  return e.with_context("tokenizer");
}

Result<std::optional<int64_t>> read_id(const gguf::File& f, std::string_view key) {
  if (!f.find(key)) return std::optional<int64_t>();
  auto v = f.get_int(key);
  if (!v.ok()) return prefixed(v.error());
  return std::optional<int64_t>(*v);
}

Result<std::optional<bool>> read_flag(const gguf::File& f, std::string_view key) {
  if (!f.find(key)) return std::optional<bool>();
  auto v = f.get_bool(key);
  if (!v.ok()) return prefixed(v.error());
  return std::optional<bool>(*v);
}

// An array of numbers under key, or nullopt when absent.
Result<const gguf::ArrayValue*> numeric_array(const gguf::File& f, std::string_view key, bool want_float) {
  if (!f.find(key)) return static_cast<const gguf::ArrayValue*>(nullptr);
  auto a = f.get_array(key);
  if (!a.ok()) return prefixed(a.error());
  const gguf::ValueType t = (*a)->elem_type;
  const bool is_float = t == gguf::ValueType::FLOAT32 || t == gguf::ValueType::FLOAT64;
  const bool is_int =
      t != gguf::ValueType::BOOL && t != gguf::ValueType::STRING && t != gguf::ValueType::ARRAY && !is_float;
  if (want_float ? !is_float : !is_int) {
    return make_error("tokenizer: %.*s: array of %s, expected %s", static_cast<int>(key.size()), key.data(),
                      gguf::value_type_name(t), want_float ? "floats" : "integers");
  }
  return *a;
}

// The way converters write "no such token": -1, or -1 stored as uint32.
bool is_none(int64_t id) {
  return id == -1 || id == 0xFFFFFFFFll;
}

Status resolve_id(const std::optional<int64_t>& given, int64_t def, const char* key, int32_t n_vocab,
                  bool lenient, int32_t* out) {
  *out = -1;
  if (!given) {
    if (def >= 0 && def < n_vocab) *out = static_cast<int32_t>(def);
    return {};
  }
  if (is_none(*given)) return {};
  if (*given < 0 || *given >= n_vocab) {
    // Padding is never produced or consumed by generation; some converters write one past the
    // vocabulary for it, which should not make the model unloadable.
    if (lenient) return {};
    return make_error("tokenizer: tokenizer.ggml.%s = %lld is out of range (n_vocab %d)", key,
                      static_cast<long long>(*given), n_vocab);
  }
  *out = static_cast<int32_t>(*given);
  return {};
}

bool is_special_type(TokenType t) {
  return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
}

// Parses "<0xNN>" (upper- or lower-case hex); -1 when text is not of that form.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (char c : text.substr(3, 2)) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// End-of-turn markers of common chat formats, in the order eot is chosen from them when the
// file names no eot_token_id. <|endoftext|> comes last: it is usually the eos already.
constexpr std::string_view kEotMarkers[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<EOT>",
    "_<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",  // DeepSeek
    "<end_of_utterance>",
    "<|endoftext|>",
};
// Also end generation, but are not end of turn (Llama 3 tool calls, Llama 3 base eos).
constexpr std::string_view kOtherEogMarkers[] = {"<|eom_id|>", "<|end_of_text|>"};

}  // namespace

Result<VocabSpec> read_spec(const gguf::File& f) {
  VocabSpec spec;
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model.ok()) return prefixed(model.error());
  spec.model = std::string(*model);
  auto name = f.get_string_or("general.name", "");
  if (!name.ok()) return prefixed(name.error());
  spec.name = std::string(*name);

  auto tokens = f.get_array(kTokens);
  if (!tokens.ok()) return prefixed(tokens.error());
  if ((*tokens)->elem_type != gguf::ValueType::STRING) {
    return make_error("tokenizer: %s: array of %s, expected strings", kTokens.data(),
                      gguf::value_type_name((*tokens)->elem_type));
  }
  spec.tokens.reserve((*tokens)->strings.size());
  for (std::string_view s : (*tokens)->strings) spec.tokens.emplace_back(s);

  // BPE only: the pre-tokenizer name and the merge list (absent for other models).
  auto pre = f.get_string_or(kPre, "");
  if (!pre.ok()) return prefixed(pre.error());
  spec.pre = std::string(*pre);
  if (f.find(kMerges)) {
    auto merges = f.get_array(kMerges);
    if (!merges.ok()) return prefixed(merges.error());
    if ((*merges)->elem_type != gguf::ValueType::STRING) {
      return make_error("tokenizer: %s: array of %s, expected strings", kMerges.data(),
                        gguf::value_type_name((*merges)->elem_type));
    }
    spec.merges.emplace((*merges)->strings.begin(), (*merges)->strings.end());
  }

  auto scores = numeric_array(f, kScores, true);
  if (!scores.ok()) return scores.error();
  if (*scores) {
    spec.scores.emplace();
    spec.scores->reserve((*scores)->count);
    for (uint64_t i = 0; i < (*scores)->count; ++i) {
      spec.scores->push_back(static_cast<float>((*scores)->float_at(i)));
    }
  }
  auto types = numeric_array(f, kTypes, false);
  if (!types.ok()) return types.error();
  if (*types) {
    spec.token_types.emplace();
    spec.token_types->reserve((*types)->count);
    for (uint64_t i = 0; i < (*types)->count; ++i) {
      const int64_t t = (*types)->int_at(i);
      // Out-of-int32 values keep failing validation instead of wrapping into a valid type.
      spec.token_types->push_back(static_cast<int32_t>(std::clamp<int64_t>(t, -1, 1 << 30)));
    }
  }

  struct IdKey {
    const char* key;
    std::optional<int64_t>* out;
  };
  for (const IdKey& k : {IdKey{"tokenizer.ggml.bos_token_id", &spec.bos_id},
                         IdKey{"tokenizer.ggml.eos_token_id", &spec.eos_id},
                         IdKey{"tokenizer.ggml.unknown_token_id", &spec.unk_id},
                         IdKey{"tokenizer.ggml.padding_token_id", &spec.pad_id},
                         IdKey{"tokenizer.ggml.eot_token_id", &spec.eot_id},
                         IdKey{"tokenizer.ggml.eom_token_id", &spec.eom_id}}) {
    auto id = read_id(f, k.key);
    if (!id.ok()) return id.error();
    *k.out = *id;
  }
  struct FlagKey {
    const char* key;
    std::optional<bool>* out;
  };
  for (const FlagKey& k : {FlagKey{"tokenizer.ggml.add_bos_token", &spec.add_bos},
                           FlagKey{"tokenizer.ggml.add_eos_token", &spec.add_eos},
                           FlagKey{"tokenizer.ggml.add_space_prefix", &spec.add_space_prefix}}) {
    auto v = read_flag(f, k.key);
    if (!v.ok()) return v.error();
    *k.out = *v;
  }
  return spec;
}

Result<Vocab> build_vocab(VocabSpec spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) return make_error("tokenizer: %s is empty", kTokens.data());
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return make_error("tokenizer: %s has %zu entries, too many for 32-bit ids", kTokens.data(), n);
  }
  const auto n_vocab = static_cast<int32_t>(n);
  Vocab v;
  v.model = std::move(spec.model);
  v.tokens = std::move(spec.tokens);

  if (spec.scores) {
    if (spec.scores->size() != n) {
      return make_error("tokenizer: %s has %zu entries, %s has %zu", kScores.data(), spec.scores->size(),
                        kTokens.data(), n);
    }
    for (size_t i = 0; i < n; ++i) {
      // A NaN score has no order; merge selection needs one.
      if (std::isnan((*spec.scores)[i])) return make_error("tokenizer: %s[%zu] is NaN", kScores.data(), i);
    }
    v.scores = std::move(*spec.scores);
  } else {
    v.scores.assign(n, 0.0f);
  }
  if (spec.token_types) {
    if (spec.token_types->size() != n) {
      return make_error("tokenizer: %s has %zu entries, %s has %zu", kTypes.data(), spec.token_types->size(),
                        kTokens.data(), n);
    }
    v.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int32_t t = (*spec.token_types)[i];
      if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) {
        return make_error("tokenizer: %s[%zu] = %d, expected 0..6", kTypes.data(), i, t);
      }
      v.types.push_back(static_cast<TokenType>(t));
    }
  } else {
    v.types.assign(n, TokenType::kNormal);
  }

  MINNOW_CHECK_OK(resolve_id(spec.bos_id, 1, "bos_token_id", n_vocab, false, &v.bos));
  MINNOW_CHECK_OK(resolve_id(spec.eos_id, 2, "eos_token_id", n_vocab, false, &v.eos));
  MINNOW_CHECK_OK(resolve_id(spec.unk_id, 0, "unknown_token_id", n_vocab, false, &v.unk));
  MINNOW_CHECK_OK(resolve_id(spec.pad_id, -1, "padding_token_id", n_vocab, true, &v.pad));
  MINNOW_CHECK_OK(resolve_id(spec.eot_id, -1, "eot_token_id", n_vocab, false, &v.eot));
  MINNOW_CHECK_OK(resolve_id(spec.eom_id, -1, "eom_token_id", n_vocab, false, &v.eom));
  v.add_bos = spec.add_bos.value_or(true);
  v.add_eos = spec.add_eos.value_or(false);
  v.add_space_prefix = spec.add_space_prefix.value_or(true);

  v.piece_to_id.reserve(n);
  std::unordered_map<std::string_view, int32_t> any_to_id;  // all types, for the <0xNN> lookup
  any_to_id.reserve(n);
  v.token_byte.assign(n, -1);
  for (int32_t id = 0; id < n_vocab; ++id) {
    const std::string_view text = v.tokens[static_cast<size_t>(id)];
    const TokenType t = v.types[static_cast<size_t>(id)];
    any_to_id.emplace(text, id);  // emplace keeps the first: duplicates map to the lowest id
    if (t == TokenType::kByte)
      v.token_byte[static_cast<size_t>(id)] = static_cast<int16_t>(parse_byte_token(text));
    if (t != TokenType::kControl && t != TokenType::kUnknown && t != TokenType::kByte) {
      v.piece_to_id.emplace(text, id);
    }
    if (is_special_type(t) && !text.empty()) v.specials.push_back(id);
  }
  // Longest first so that "<|im_start|>" wins over a "<|im" that is also special; ties by id
  // keep the order deterministic.
  std::stable_sort(v.specials.begin(), v.specials.end(), [&](int32_t a, int32_t b) {
    return v.tokens[static_cast<size_t>(a)].size() > v.tokens[static_cast<size_t>(b)].size();
  });

  // llama.cpp's rule for Phi-3 (by name, lower-cased): every special token strips the
  // whitespace after it except <unk>, <s> and <|endoftext|>; </s> does too.
  v.rstrip.assign(n, 0);
  std::string lower_name = spec.name;
  for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower_name.find("phi3") != std::string::npos || lower_name.find("phi-3") != std::string::npos) {
    for (int32_t id : v.specials) v.rstrip[static_cast<size_t>(id)] = 1;
    auto set = [&](std::string_view text, uint8_t on) {
      if (auto it = any_to_id.find(text); it != any_to_id.end())
        v.rstrip[static_cast<size_t>(it->second)] = on;
    };
    set("</s>", 1);
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) set(text, 0);
  }

  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    auto it = any_to_id.find(std::string_view(name, sizeof(name)));
    if (it != any_to_id.end()) {
      v.byte_to_id[static_cast<size_t>(b)] = it->second;
      continue;
    }
    const char one = static_cast<char>(b);
    auto p = v.piece_to_id.find(std::string_view(&one, 1));
    v.byte_to_id[static_cast<size_t>(b)] = p != v.piece_to_id.end() ? p->second : -1;
  }

  // Only tokens the vocabulary marks special count: a normal token spelled "<|end|>" is text.
  auto find_marker = [&](std::string_view m) {
    auto it = any_to_id.find(m);
    if (it == any_to_id.end()) return -1;
    const TokenType t = v.type(it->second);
    return t == TokenType::kControl || t == TokenType::kUserDefined ? it->second : -1;
  };
  for (std::string_view m : kEotMarkers) {
    if (v.eot >= 0) break;
    if (const int32_t id = find_marker(m); id >= 0 && id != v.eos) v.eot = id;
  }
  for (int32_t id : {v.eos, v.eot, v.eom}) {
    if (id >= 0) v.eog.push_back(id);
  }
  for (std::string_view m : kEotMarkers) {
    if (const int32_t id = find_marker(m); id >= 0) v.eog.push_back(id);
  }
  for (std::string_view m : kOtherEogMarkers) {
    if (const int32_t id = find_marker(m); id >= 0) v.eog.push_back(id);
  }
  std::sort(v.eog.begin(), v.eog.end());
  v.eog.erase(std::unique(v.eog.begin(), v.eog.end()), v.eog.end());
  return v;
}

}  // namespace minnow::tok

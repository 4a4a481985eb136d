// Imports a Hugging Face tokenizer.json the way llama.cpp's converter does: tokens by id,
// added tokens as control (special) or user-defined ones, merges as "a b" (or, for
// SentencePiece-style BPE, as scores: hf_import_spm), a pre-tokenizer name recognized from the
// pre_tokenizer config, special ids from the configs. Every JSON value is type-checked before
// use; nlohmann exceptions never leave this file.
#include "tokenizer/hf_import.h"

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/hf_import_spm.h"
#include "tokenizer/hf_json.h"

namespace minnow::tok {
namespace {

// Real vocabularies stay under 300k tokens; the cap keeps a hostile id or vocab_size from
// sizing a huge table.
constexpr size_t kMaxTokens = size_t{1} << 24;
constexpr std::string_view kWordStart = "\xE2\x96\x81";  // llama.cpp's WordPiece word-start mark

// The regexes of the Split pre-tokenizers we recognize, as tokenizer.json spells them.
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// llama.cpp's does_token_look_special: added tokens some models forget to mark special.
bool looks_special(std::string_view t) {
  auto wrapped = [&](std::string_view open, std::string_view close) {
    return t.size() >= open.size() + close.size() && t.substr(0, open.size()) == open &&
           t.substr(t.size() - close.size()) == close;
  };
  return wrapped("<|", "|>") || wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || t == "<pad>" || t == "<mask>";
}

struct TokenTable {
  std::vector<std::string> texts;
  std::vector<int32_t> types;
  std::unordered_map<std::string_view, int32_t> by_text;  // lowest id per text

  void index() {
    by_text.clear();
    for (size_t i = 0; i < texts.size(); ++i) by_text.emplace(texts[i], static_cast<int32_t>(i));
  }
  std::optional<int64_t> find(std::string_view text) const {
    auto it = by_text.find(text);
    return it == by_text.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
};

// WordPiece pieces in llama.cpp's GGUF spelling: "##x" -> "x", "[X]" kept, anything else "▁x".
std::string wordpiece_text(const std::string& t, std::string_view continuing) {
  if (!continuing.empty() && t.size() > continuing.size() && t.compare(0, continuing.size(), continuing) == 0)
    return t.substr(continuing.size());
  if (t.size() >= 2 && t.front() == '[' && t.back() == ']') return t;
  return std::string(kWordStart) + t;
}

// model.vocab and added_tokens -> texts and types by id, checking that ids run 0..n-1.
Result<TokenTable> collect_tokens(const Json& model, const Json* added, bool wordpiece) {
  const Json* vocab = member(model, "vocab");
  if (!vocab || !vocab->is_object()) return make_error("tokenizer.json: model.vocab is not an object");
  if (added && !added->is_array()) return make_error("tokenizer.json: added_tokens is not an array");
  const size_t bound = vocab->size() + (added ? added->size() : 0);
  if (bound == 0) return make_error("tokenizer.json: model.vocab is empty");
  if (bound > kMaxTokens) return make_error("tokenizer.json: %zu tokens, at most %zu", bound, kMaxTokens);
  std::string continuing = "##";
  if (const std::string* p = string_member(model, "continuing_subword_prefix")) continuing = *p;

  enum Origin : uint8_t { kNone, kVocab, kAdded };
  std::vector<Origin> origin(bound, kNone);
  TokenTable t;
  t.texts.resize(bound);
  t.types.assign(bound, static_cast<int32_t>(TokenType::kNormal));
  // An id is valid when it is below the number of entries: anything larger must leave a gap.
  auto check_id = [&](const Json& v, const std::string& text, const char* where) -> Result<size_t> {
    const std::optional<int64_t> id = as_int(v);
    if (!id) return make_error("tokenizer.json: %s '%s': id is not an integer", where, clip(text).c_str());
    if (*id < 0 || static_cast<uint64_t>(*id) >= bound) {
      return make_error(
          "tokenizer.json: %s '%s': id %lld out of range (%zu entries; ids must run from 0 without gaps)",
          where, clip(text).c_str(), static_cast<long long>(*id), bound);
    }
    return static_cast<size_t>(*id);
  };
  for (const auto& [text, v] : vocab->items()) {
    auto id = check_id(v, text, "model.vocab");
    if (!id.ok()) return id.error();
    if (origin[*id] != kNone) {
      return make_error("tokenizer.json: model.vocab: id %zu is both '%s' and '%s'", *id,
                        clip(t.texts[*id]).c_str(), clip(text).c_str());
    }
    origin[*id] = kVocab;
    t.texts[*id] = wordpiece ? wordpiece_text(text, continuing) : text;
  }
  if (added) {
    for (size_t i = 0; i < added->size(); ++i) {
      const Json& a = (*added)[i];
      const std::string* content = string_member(a, "content");
      const Json* idv = member(a, "id");
      if (!content || !idv)
        return make_error("tokenizer.json: added_tokens[%zu]: needs a string content and an id", i);
      auto id = check_id(*idv, *content, "added_tokens");
      if (!id.ok()) return id.error();
      if (origin[*id] == kAdded) {
        return make_error("tokenizer.json: added_tokens: id %zu is both '%s' and '%s'", *id,
                          clip(t.texts[*id]).c_str(), clip(*content).c_str());
      }
      // An added token overrides the model's entry for its id, as in HF's get_vocab. Its text is
      // matched in raw input before any normalization, so it is stored raw.
      origin[*id] = kAdded;
      t.texts[*id] = *content;
      const bool special = bool_member(a, "special", false) || looks_special(*content);
      t.types[*id] = static_cast<int32_t>(special ? TokenType::kControl : TokenType::kUserDefined);
    }
  }
  size_t n = bound;
  while (n > 0 && origin[n - 1] == kNone) --n;
  for (size_t i = 0; i < n; ++i) {
    if (origin[i] == kNone)
      return make_error("tokenizer.json: no token has id %zu (ids must run from 0 without gaps)", i);
  }
  t.texts.resize(n);
  t.types.resize(n);
  t.index();
  return t;
}

// model.merges in rank order as "a b", each side and their concatenation a token (HF refuses
// the file otherwise). Both the "a b" strings and the newer ["a", "b"] pairs are accepted.
Result<std::vector<std::string>> collect_merges(const Json& model, const TokenTable& t) {
  const Json* merges = member(model, "merges");
  if (!merges) return std::vector<std::string>();
  if (!merges->is_array()) return make_error("tokenizer.json: model.merges is not an array");
  std::vector<std::string> out;
  out.reserve(merges->size());
  std::string joined;
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    std::string_view a, b;
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return make_error("tokenizer.json: model.merges[%zu] '%s' is not two tokens separated by one space",
                          i, clip(s).c_str());
      }
      a = std::string_view(s).substr(0, sp);
      b = std::string_view(s).substr(sp + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get_ref<const std::string&>();
      b = m[1].get_ref<const std::string&>();
      if (a.find(' ') != std::string_view::npos || b.find(' ') != std::string_view::npos) {
        return make_error(
            "tokenizer.json: model.merges[%zu]: a token with a space cannot be written as a GGUF merge", i);
      }
    } else {
      return make_error("tokenizer.json: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", i);
    }
    if (a.empty() || b.empty()) return make_error("tokenizer.json: model.merges[%zu] has an empty side", i);
    joined.assign(a).append(b);
    for (std::string_view part : {a, b, std::string_view(joined)}) {
      if (!t.find(part)) {
        return make_error("tokenizer.json: model.merges[%zu] needs '%s', which is not a token", i,
                          clip(part).c_str());
      }
    }
    out.push_back(std::string(a) + " " + std::string(b));
  }
  return out;
}

// One pre-tokenizer step, spelled for matching and for error messages.
Result<std::string> describe_step(const Json& p, std::vector<std::string>& steps, int depth) {
  const std::string* type = string_member(p, "type");
  if (!type) return make_error("tokenizer.json: pre_tokenizer without a type");
  if (*type == "Sequence") {
    const Json* list = member(p, "pretokenizers");
    if (!list || !list->is_array())
      return make_error("tokenizer.json: pre_tokenizer Sequence without a list");
    if (depth > 4) return make_error("tokenizer.json: pre_tokenizer Sequences nested too deep");
    for (const Json& q : *list) {
      auto s = describe_step(q, steps, depth + 1);
      if (!s.ok()) return s.error();
    }
    return std::string();
  }
  std::string step = *type;
  if (*type == "ByteLevel") {
    if (bool_member(p, "add_prefix_space", true)) step += "(add_prefix_space)";
    if (bool_member(p, "use_regex", true)) step += "(gpt2 regex)";
  } else if (*type == "Digits") {
    if (bool_member(p, "individual_digits", false)) step += "(individual)";
  } else if (*type == "Split") {
    const Json* pattern = member(p, "pattern");
    const std::string* re = pattern ? string_member(*pattern, "Regex") : nullptr;
    const std::string* str = pattern ? string_member(*pattern, "String") : nullptr;
    const std::string* behavior = string_member(p, "behavior");
    step += re ? "(regex '" + *re + "'" : str ? "(string '" + *str + "'" : std::string("(?");
    step += ", " + (behavior ? *behavior : std::string("?")) +
            (bool_member(p, "invert", false) ? ", inverted)" : ")");
  }
  steps.push_back(step);
  return std::string();
}

struct KnownPre {
  std::vector<std::string> steps;
  const char* name;
};

// Pre-tokenizer configs -> tokenizer.ggml.pre names llama.cpp gives them. llama.cpp itself
// recognizes a tokenizer by hashing its output on a test text; matching the config is the
// same idea without running the tokenizer. Digits + ByteLevel is SmolLM's, and also
// StarCoder 2's: llama.cpp tokenizes "smollm" and "starcoder" alike, so either name is right.
const std::vector<KnownPre>& known_pres() {
  static const std::vector<KnownPre> kKnown = {
      {{"ByteLevel(gpt2 regex)"}, "gpt-2"},
      {{"Digits(individual)", "ByteLevel(gpt2 regex)"}, "smollm"},
      {{"Split(regex '" + std::string(kLlama3Regex) + "', Isolated)", "ByteLevel"}, "llama-bpe"},
      {{"Split(regex '" + std::string(kQwen2Regex) + "', Isolated)", "ByteLevel"}, "qwen2"},
  };
  return kKnown;
}

Result<std::string> detect_pre(const Json* pre_tokenizer) {
  if (!pre_tokenizer)
    return make_error("tokenizer.json: byte-level BPE without a pre_tokenizer; name one explicitly");
  std::vector<std::string> steps;
  auto ok = describe_step(*pre_tokenizer, steps, 0);
  if (!ok.ok()) return ok.error();
  for (const KnownPre& k : known_pres()) {
    if (k.steps == steps) return std::string(k.name);
  }
  std::string desc;
  for (const std::string& s : steps) desc += (desc.empty() ? "" : " + ") + s;
  return make_error(
      "tokenizer.json: pre_tokenizer %s is not one minnow recognizes (known: gpt-2, smollm, llama-bpe, "
      "qwen2); "
      "name the tokenizer.ggml.pre to use explicitly",
      clip(desc).c_str());
}

bool has_byte_level(const Json* p, int depth = 0) {
  if (!p || depth > 4) return false;
  const std::string* type = string_member(*p, "type");
  if (type && *type == "ByteLevel") return true;
  for (const char* key : {"pretokenizers", "decoders"}) {
    if (const Json* list = member(*p, key); list && list->is_array()) {
      for (const Json& q : *list) {
        if (has_byte_level(&q, depth + 1)) return true;
      }
    }
  }
  return false;
}

struct Specials {
  std::optional<int64_t> bos, eos, unk, pad;
  std::optional<bool> add_bos, add_eos;
};

Result<int64_t> checked_id(const Json& v, const TokenTable& t, const char* what) {
  const std::optional<int64_t> id = as_int(v);
  if (!id || *id < 0 || static_cast<uint64_t>(*id) >= t.texts.size()) {
    return make_error("%s: %s is not a token id below %zu", what, clip(v.dump()).c_str(), t.texts.size());
  }
  return *id;
}

// post_processor: what HF adds around a sequence (BOS/CLS before, EOS/SEP after).
Status read_post_processor(const Json& pp, const TokenTable& t, Specials& s, int depth) {
  const std::string* type = string_member(pp, "type");
  if (!type || depth > 4) return {};
  if (*type == "Sequence") {
    if (const Json* list = member(pp, "processors"); list && list->is_array()) {
      for (const Json& q : *list) MINNOW_CHECK_OK(read_post_processor(q, t, s, depth + 1));
    }
  } else if (*type == "TemplateProcessing") {
    const Json* single = member(pp, "single");
    if (!single || !single->is_array()) return {};
    bool after_text = false;
    for (const Json& item : *single) {
      if (member(item, "Sequence")) {
        after_text = true;
        continue;
      }
      const Json* sp = member(item, "SpecialToken");
      const std::string* name = sp ? string_member(*sp, "id") : nullptr;
      if (!name) continue;
      // The special_tokens map gives its ids; the name itself is the fallback.
      std::optional<int64_t> id;
      const Json* map = member(pp, "special_tokens");
      const Json* entry = map ? member(*map, name->c_str()) : nullptr;
      const Json* ids = entry ? member(*entry, "ids") : nullptr;
      if (ids && ids->is_array() && ids->size() == 1) {
        auto v = checked_id((*ids)[0], t, "tokenizer.json: post_processor");
        if (!v.ok()) return v.error();
        id = *v;
      } else {
        id = t.find(*name);
      }
      if (!id)
        return make_error("tokenizer.json: post_processor adds '%s', which is not a token",
                          clip(*name).c_str());
      std::optional<int64_t>& slot = after_text ? s.eos : s.bos;
      if (!slot) slot = id;
      (after_text ? s.add_eos : s.add_bos) = true;
    }
  } else if (*type == "BertProcessing" || *type == "RobertaProcessing") {
    for (const char* key : {"cls", "sep"}) {
      const Json* pair = member(pp, key);
      if (!pair || !pair->is_array() || pair->size() != 2) continue;
      auto id = checked_id((*pair)[1], t, "tokenizer.json: post_processor");
      if (!id.ok()) return id.error();
      const bool cls = key[0] == 'c';
      std::optional<int64_t>& slot = cls ? s.bos : s.eos;
      if (!slot) slot = *id;
      (cls ? s.add_bos : s.add_eos) = true;
    }
  }
  return {};
}

// The config's specials: names (tokenizer_config.json) win over ids (config.json).
Status read_config_specials(const Json& cfg, const TokenTable& t, Specials& s) {
  struct Slot {
    const char* name;
    std::optional<int64_t>* out;
    bool required;  // a named BOS/EOS that is not a token is an error; unk/pad are skipped
  };
  for (const Slot& slot : {Slot{"bos", &s.bos, true}, Slot{"eos", &s.eos, true}, Slot{"unk", &s.unk, false},
                           Slot{"pad", &s.pad, false}}) {
    const std::string key = std::string(slot.name) + "_token";
    const Json* v = member(cfg, key.c_str());
    const std::string* text = nullptr;
    if (v && v->is_string()) text = &v->get_ref<const std::string&>();
    if (v && v->is_object()) text = string_member(*v, "content");  // a serialized AddedToken
    if (text) {
      if (auto id = t.find(*text)) {
        *slot.out = id;
        continue;
      }
      if (slot.required) {
        return make_error("config: %s '%s' is not a token", key.c_str(), clip(*text).c_str());
      }
    }
    const Json* idv = member(cfg, (key + "_id").c_str());
    if (idv && idv->is_array()) idv = idv->empty() ? nullptr : &(*idv)[0];  // Llama 3.1 lists several EOS
    if (!idv) continue;
    auto id = checked_id(*idv, t, ("config: " + key + "_id").c_str());
    if (id.ok()) {
      *slot.out = *id;
    } else if (slot.required) {
      return id.error();
    }
  }
  if (const Json* v = member(cfg, "add_bos_token"); v && v->is_boolean()) s.add_bos = v->get<bool>();
  if (const Json* v = member(cfg, "add_eos_token"); v && v->is_boolean()) s.add_eos = v->get<bool>();
  return {};
}

Result<VocabSpec> import(const Json& tj, const Json* cfg, const HfImportOptions& options) {
  if (!tj.is_object()) return make_error("tokenizer.json: not a JSON object");
  const Json* model = member(tj, "model");
  if (!model || !model->is_object()) return make_error("tokenizer.json: no model object");
  // Files from before the type field have BPE's merges.
  const Json* type = member(*model, "type");
  const std::string model_type = !type               ? (member(*model, "merges") ? "BPE" : "(none)")
                                 : type->is_string() ? type->get<std::string>()
                                                     : type->dump();
  if (model_type == "Unigram") {
    // Unigram picks the segmentation with the best total log-probability (Viterbi); our SPM
    // tokenizer merges pairs greedily by score, which segments differently: with pieces a -5,
    // c -0.1, ab -0.5, bc -0.4, Unigram makes "abc" ab|c (-0.6), greedy merging a|bc.
    return make_error(
        "tokenizer.json: model type Unigram is not supported yet (it needs a Viterbi tokenizer; "
        "byte-level BPE, SentencePiece-style BPE and WordPiece are supported)");
  }
  if (model_type != "BPE" && model_type != "WordPiece") {
    return make_error(
        "tokenizer.json: model type %s is not supported yet (byte-level BPE, SentencePiece-style BPE and "
        "WordPiece are)",
        clip(model_type).c_str());
  }
  const bool wordpiece = model_type == "WordPiece";
  // BPE without a byte-level step is SentencePiece's: byte fallback and "▁" for spaces.
  const bool spm =
      !wordpiece && !has_byte_level(member(tj, "pre_tokenizer")) && !has_byte_level(member(tj, "decoder"));
  VocabSpec spec;
  if (spm) {
    auto style = read_spm_style(tj, *model);
    if (!style.ok()) return style.error();
    spec.model = "llama";
    spec.pre = options.pre.empty() ? "default" : options.pre;  // what llama.cpp writes for SPM
    spec.add_space_prefix = style->add_space_prefix;
  } else if (!wordpiece) {
    spec.model = "gpt2";
    if (!options.pre.empty()) {
      spec.pre = options.pre;
    } else {
      auto pre = detect_pre(member(tj, "pre_tokenizer"));
      if (!pre.ok()) return pre.error();
      spec.pre = std::move(pre).value();
    }
    spec.add_space_prefix = false;
  } else {
    spec.model = "bert";
    spec.pre = options.pre;
  }

  auto table = collect_tokens(*model, member(tj, "added_tokens"), wordpiece);
  if (!table.ok()) return table.error();
  TokenTable& t = *table;
  if (spm) {
    // SentencePiece's token types: byte-fallback pieces are bytes (added tokens keep theirs).
    for (size_t id = 0; id < t.texts.size(); ++id) {
      if (t.types[id] == static_cast<int32_t>(TokenType::kNormal) && is_byte_token_text(t.texts[id]))
        t.types[id] = static_cast<int32_t>(TokenType::kByte);
    }
    auto merges = collect_merges(*model, t);
    if (!merges.ok()) return merges.error();
    auto scores = spm_scores_from_merges(*merges, t.by_text, t.texts.size());
    if (!scores.ok()) return scores.error();
    spec.scores = std::move(scores).value();
  } else if (!wordpiece) {
    auto merges = collect_merges(*model, t);
    if (!merges.ok()) return merges.error();
    spec.merges = std::move(merges).value();
  }

  Specials s;
  if (const std::string* unk = string_member(*model, "unk_token")) {
    s.unk = t.find(*unk);
    if (!s.unk) return make_error("tokenizer.json: model.unk_token '%s' is not a token", clip(*unk).c_str());
  }
  Specials from_pp;
  if (const Json* pp = member(tj, "post_processor")) MINNOW_CHECK_OK(read_post_processor(*pp, t, from_pp, 0));
  Specials from_cfg;
  if (cfg) MINNOW_CHECK_OK(read_config_specials(*cfg, t, from_cfg));
  spec.bos_id = from_cfg.bos ? from_cfg.bos : from_pp.bos;
  spec.eos_id = from_cfg.eos ? from_cfg.eos : from_pp.eos;
  spec.unk_id = from_cfg.unk ? from_cfg.unk : s.unk;
  spec.pad_id = from_cfg.pad;
  spec.add_bos = from_cfg.add_bos.value_or(from_pp.add_bos.value_or(false));
  spec.add_eos = from_cfg.add_eos.value_or(from_pp.add_eos.value_or(false));
  if (spm) {
    // SentencePiece marks its unknown piece as such (HF lists it as a special added token).
    if (s.unk) t.types[static_cast<size_t>(*s.unk)] = static_cast<int32_t>(TokenType::kUnknown);
    // Ids the files do not name are none: SPM's defaults (bos 1, eos 2, unk 0) would be
    // Gemma's <eos>, <bos> and <pad>.
    for (std::optional<int64_t>* id : {&spec.bos_id, &spec.eos_id, &spec.unk_id}) {
      if (!*id) *id = -1;
    }
  }

  // config.json's vocab_size: the embedding may have more rows than the tokenizer has tokens.
  if (const Json* vs = cfg ? member(*cfg, "vocab_size") : nullptr) {
    const std::optional<int64_t> n = as_int(*vs);
    if (!n || *n < 0 || static_cast<uint64_t>(*n) > kMaxTokens) {
      return make_error("config: vocab_size %s is not a count up to %zu", clip(vs->dump()).c_str(),
                        kMaxTokens);
    }
    // Padding never merges: it scores no higher than any piece.
    const float pad_score = spec.scores ? *std::min_element(spec.scores->begin(), spec.scores->end()) : 0.0f;
    for (size_t id = t.texts.size(); id < static_cast<size_t>(*n); ++id) {
      t.texts.push_back("[PAD" + std::to_string(id) + "]");
      t.types.push_back(static_cast<int32_t>(TokenType::kUnused));
      if (spec.scores) spec.scores->push_back(pad_score);
    }
  }
  spec.tokens = std::move(t.texts);
  spec.token_types = std::move(t.types);
  return spec;
}

}  // namespace

Result<VocabSpec> import_hf_tokenizer(std::string_view tokenizer_json, std::string_view config_json,
                                      const HfImportOptions& options) {
  try {
    auto tj = parse_json(tokenizer_json, "tokenizer.json");
    if (!tj.ok()) return tj.error();
    std::optional<Json> cfg;
    if (!config_json.empty()) {
      auto c = parse_json(config_json, "config");
      if (!c.ok()) return c.error();
      if (!c->is_object()) return make_error("config: not a JSON object");
      cfg = std::move(c).value();
    }
    return import(*tj, cfg ? &*cfg : nullptr, options);
  } catch (const std::exception& e) {  // a check missed above, or out of memory
    return make_error("tokenizer import: %s", e.what());
  }
}

Result<std::optional<std::string>> hf_chat_template(std::string_view config_json) {
  try {
    if (config_json.empty()) return std::optional<std::string>();
    auto cfg = parse_json(config_json, "config");
    if (!cfg.ok()) return cfg.error();
    const Json* t = member(*cfg, "chat_template");
    if (!t) return std::optional<std::string>();
    if (t->is_string()) return std::optional<std::string>(t->get<std::string>());
    if (!t->is_array()) return make_error("config: chat_template is neither a string nor a list");
    const std::string* first = nullptr;
    for (const Json& e : *t) {
      const std::string* name = string_member(e, "name");
      const std::string* tmpl = string_member(e, "template");
      if (!tmpl) continue;
      if (name && *name == "default") return std::optional<std::string>(*tmpl);
      if (!first) first = tmpl;
    }
    return first ? std::optional<std::string>(*first) : std::optional<std::string>();
  } catch (const std::exception& e) {
    return make_error("tokenizer import: %s", e.what());
  }
}

void write_vocab_metadata(const VocabSpec& spec, gguf::Writer& w) {
  w.set_string("tokenizer.ggml.model", spec.model);
  if (!spec.pre.empty()) w.set_string("tokenizer.ggml.pre", spec.pre);
  w.set_array_string("tokenizer.ggml.tokens", spec.tokens);
  if (spec.token_types) w.set_array_i32("tokenizer.ggml.token_type", *spec.token_types);
  if (spec.scores) w.set_array_f32("tokenizer.ggml.scores", *spec.scores);
  if (spec.merges) w.set_array_string("tokenizer.ggml.merges", *spec.merges);
  struct Id {
    const char* key;
    const std::optional<int64_t>& v;
  };
  for (const Id& id :
       {Id{"tokenizer.ggml.bos_token_id", spec.bos_id}, Id{"tokenizer.ggml.eos_token_id", spec.eos_id},
        Id{"tokenizer.ggml.unknown_token_id", spec.unk_id},
        Id{"tokenizer.ggml.padding_token_id", spec.pad_id}, Id{"tokenizer.ggml.eot_token_id", spec.eot_id},
        Id{"tokenizer.ggml.eom_token_id", spec.eom_id}}) {
    if (!id.v) continue;
    // llama.cpp writes ids as uint32 and "none" as its all-ones value.
    if (*id.v >= 0 && *id.v <= 0xFFFFFFFFll) {
      w.set_u32(id.key, static_cast<uint32_t>(*id.v));
    } else if (*id.v < 0) {
      w.set_u32(id.key, 0xFFFFFFFFu);
    } else {
      w.set_i64(id.key, *id.v);  // out of range either way; keep the value for the reader's error
    }
  }
  if (spec.add_bos) w.set_bool("tokenizer.ggml.add_bos_token", *spec.add_bos);
  if (spec.add_eos) w.set_bool("tokenizer.ggml.add_eos_token", *spec.add_eos);
  if (spec.add_space_prefix) w.set_bool("tokenizer.ggml.add_space_prefix", *spec.add_space_prefix);
}

}  // namespace minnow::tok

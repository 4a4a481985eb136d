// SentencePiece-style tokenizer.json: which normalizer and pre-tokenizer steps our SPM tokenizer
// reproduces, and the merge ranks turned into SPM scores. The steps are matched by type and
// argument; anything else is refused by name rather than tokenized differently.
#include "tokenizer/hf_import_spm.h"

namespace minnow::tok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
constexpr int kMaxDepth = 4;                         // nested Sequences; real files use one level
// float32 holds every integer below 2^24 exactly, so distinct ranks stay distinct scores.
constexpr size_t kMaxExactRank = size_t{1} << 24;

struct Steps {
  bool escapes_spaces = false;  // " " -> "▁" (Replace normalizer or Metaspace)
  bool prepends = false;        // "▁" in front (Prepend normalizer or Metaspace)
};

std::string step_type(const Json& step) {
  const std::string* type = string_member(step, "type");
  return type ? *type : step.dump();
}

Status read_normalizer(const Json& n, Steps& s, int depth) {
  const std::string type = step_type(n);
  if (type == "Sequence") {
    const Json* list = member(n, "normalizers");
    if (!list || !list->is_array()) return make_error("tokenizer.json: normalizer Sequence without a list");
    if (depth >= kMaxDepth) return make_error("tokenizer.json: normalizer Sequences nested too deep");
    for (const Json& m : *list) MINNOW_CHECK_OK(read_normalizer(m, s, depth + 1));
    return {};
  }
  if (type == "Prepend") {
    const std::string* p = string_member(n, "prepend");
    if (!p || *p != kSpace) {
      return make_error("tokenizer.json: normalizer Prepend '%s' is not one minnow reproduces (only \"%s\")",
                        clip(p ? *p : "?").c_str(), std::string(kSpace).c_str());
    }
    s.prepends = true;
    return {};
  }
  if (type == "Replace") {
    // Replace(" ", "▁") is SentencePiece's space escaping; any other changes the text in a way
    // SPM does not.
    const Json* pattern = member(n, "pattern");
    const std::string* from = pattern ? string_member(*pattern, "String") : nullptr;
    const std::string* to = string_member(n, "content");
    if (!from || !to || *from != " " || *to != kSpace) {
      return make_error(
          "tokenizer.json: normalizer Replace %s -> %s is not one minnow reproduces (only \" \" -> \"%s\")",
          clip(pattern ? pattern->dump() : "?").c_str(), clip(to ? *to : "?").c_str(),
          std::string(kSpace).c_str());
    }
    s.escapes_spaces = true;
    return {};
  }
  return make_error(
      "tokenizer.json: SentencePiece-style normalizer %s is not one minnow reproduces (Prepend \"%s\" and "
      "Replace \" \" -> \"%s\" are)",
      clip(type).c_str(), std::string(kSpace).c_str(), std::string(kSpace).c_str());
}

// Runs after the normalizer, so a Split on " " finds no space left once it replaced them all.
Status read_pre_tokenizer(const Json& p, Steps& s, int depth) {
  const std::string type = step_type(p);
  if (type == "Sequence") {
    const Json* list = member(p, "pretokenizers");
    if (!list || !list->is_array())
      return make_error("tokenizer.json: pre_tokenizer Sequence without a list");
    if (depth >= kMaxDepth) return make_error("tokenizer.json: pre_tokenizer Sequences nested too deep");
    for (const Json& q : *list) MINNOW_CHECK_OK(read_pre_tokenizer(q, s, depth + 1));
    return {};
  }
  if (type == "Metaspace") {
    const std::string* rep = string_member(p, "replacement");
    if (rep && *rep != kSpace) {
      return make_error("tokenizer.json: pre_tokenizer Metaspace replacement '%s' is not \"%s\"",
                        clip(*rep).c_str(), std::string(kSpace).c_str());
    }
    // prepend_scheme since tokenizers 0.14, add_prefix_space before. Where HF's Metaspace and
    // SentencePiece (which the model was trained with, and llama.cpp follows) differ, we do as
    // SentencePiece: "first" (no "▁" after an added token) reads as "always", text that starts
    // with a space still gets its "▁", and `split` is not followed (merges cross "▁").
    bool prepend = bool_member(p, "add_prefix_space", true);
    if (const std::string* scheme = string_member(p, "prepend_scheme")) {
      if (*scheme != "always" && *scheme != "first" && *scheme != "never") {
        return make_error(
            "tokenizer.json: pre_tokenizer Metaspace prepend_scheme '%s' is not always, first or never",
            clip(*scheme).c_str());
      }
      prepend = *scheme != "never";
    }
    s.escapes_spaces = true;
    s.prepends = s.prepends || prepend;
    return {};
  }
  if (type == "Split" && s.escapes_spaces) {
    const Json* pattern = member(p, "pattern");
    const std::string* str = pattern ? string_member(*pattern, "String") : nullptr;
    if (str && *str == " ") return {};  // Gemma's: nothing to split once spaces are "▁"
  }
  return make_error(
      "tokenizer.json: SentencePiece-style pre_tokenizer %s is not one minnow reproduces "
      "(Metaspace is, and a Split on \" \" after a normalizer replaced spaces)",
      clip(type == "Split" ? p.dump() : type).c_str());
}

}  // namespace

Result<SpmStyle> read_spm_style(const Json& tj, const Json& model) {
  // BPE options SPM has no counterpart for.
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const std::string* v = string_member(model, key);
    if (v && !v->empty()) {
      return make_error("tokenizer.json: SentencePiece-style BPE with a %s ('%s') is not supported", key,
                        clip(*v).c_str());
    }
  }
  if (bool_member(model, "ignore_merges", false)) {
    return make_error("tokenizer.json: SentencePiece-style BPE with ignore_merges is not supported");
  }
  Steps s;
  if (const Json* n = member(tj, "normalizer")) MINNOW_CHECK_OK(read_normalizer(*n, s, 0));
  if (const Json* p = member(tj, "pre_tokenizer")) MINNOW_CHECK_OK(read_pre_tokenizer(*p, s, 0));
  if (!s.escapes_spaces) {
    return make_error(
        "tokenizer.json: BPE without a ByteLevel pre-tokenizer is read as SentencePiece-style, which "
        "needs spaces turned into \"%s\" (a Metaspace pre-tokenizer or a Replace normalizer); this one "
        "has neither",
        std::string(kSpace).c_str());
  }
  return SpmStyle{.add_space_prefix = s.prepends};
}

bool is_byte_token_text(std::string_view t) {
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  };
  return t.size() == 6 && t.substr(0, 3) == "<0x" && hex(t[3]) && hex(t[4]) && t[5] == '>';
}

// SpmModel merges the adjacent pair whose joined piece scores highest, leftmost on ties; BPE the
// pair whose merge ranks first, leftmost on ties. Scoring each piece -(rank of the first merge
// that makes it) makes the orders one wherever the merges making a piece rank together: true of
// the files transformers' SpmConverter writes (every split of a piece into two pieces, ranked by
// the piece's SentencePiece score), which Llama 2, Mistral, Phi-3 and Gemma ship. Pieces no
// merge makes score below every merge (single characters: no merge's result anyway).
Result<std::vector<float>> spm_scores_from_merges(
    const std::vector<std::string>& merges, const std::unordered_map<std::string_view, int32_t>& by_text,
    size_t n_tokens) {
  if (merges.size() >= kMaxExactRank) {
    return make_error("tokenizer.json: %zu merges, at most %zu keep their order as SentencePiece scores",
                      merges.size(), kMaxExactRank - 1);
  }
  std::vector<float> scores(n_tokens, -static_cast<float>(merges.size()));  // [n_tokens]
  std::vector<uint8_t> made(n_tokens, 0);                                   // [n_tokens] 1: scored
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t sp = m.find(' ');
    joined.assign(m, 0, sp).append(m, sp + 1);
    const auto it = by_text.find(joined);
    if (it == by_text.end() || static_cast<size_t>(it->second) >= n_tokens) {
      return make_error("tokenizer.json: model.merges[%zu] makes '%s', which is not a token", rank,
                        clip(joined).c_str());
    }
    const auto id = static_cast<size_t>(it->second);
    if (made[id]) continue;
    made[id] = 1;
    scores[id] = -static_cast<float>(rank);
  }
  return scores;
}

}  // namespace minnow::tok

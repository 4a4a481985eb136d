// WordPiece (tokenizer.ggml.model "bert"), as Hugging Face's BertTokenizer does it: BERT
// normalization, whitespace and punctuation splitting, then greedy longest-match-first pieces per
// word. Vocabularies use llama.cpp's GGUF spelling: word-initial pieces carry a "▁" prefix and
// continuation pieces drop BERT's "##" (HF "hello", "##s" are GGUF "▁hello", "s").
#pragma once

#include <cstddef>

#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace minnow::tok {

// Fills in what BERT GGUFs leave implicit, before the vocabulary is built: BOS/EOS/unknown/pad
// default to [CLS]/[SEP]/[UNK]/[PAD] (none where the vocabulary lacks them, not SPM's 1/2/0),
// and encoding with specials adds both [CLS] and [SEP], as BERT's post-processor does.
void apply_wpm_defaults(VocabSpec& spec);

class WpmModel final : public Model {
 public:
  explicit WpmModel(const Vocab& vocab);  // vocab outlives the model

  void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const override;
  void append_piece(int32_t id, std::string& out) const override;
  bool strips_leading_space() const override { return true; }  // the first word's "▁"

  // Whether the vocabulary is uncased (lowercase + accent stripping, as bert-base-uncased and
  // bge): GGUF has no key for do_lower_case, so it is read off the pieces, none of which
  // holds an upper-case ASCII letter in an uncased vocabulary.
  bool uncased() const { return uncased_; }

 private:
  // Appends the pieces of one pre-tokenized word, or the unknown token when some part of it
  // matches no piece.
  void encode_word(std::string_view word, size_t n_chars, std::string& key, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  bool uncased_ = true;
  size_t max_piece_ = 1;  // the longest piece in bytes, "▁" prefix not counted: bounds the search
};

}  // namespace minnow::tok

// SentencePiece BPE-by-score (tokenizer.ggml.model "llama"), as llama.cpp's SPM tokenizer does
// it: spaces become U+2581, adjacent pieces merge best score first, unknown pieces fall back
// to <0xNN> byte tokens.
#pragma once

#include "tokenizer/model.h"
#include "tokenizer/vocab.h"

namespace minnow::tok {

class SpmModel final : public Model {
 public:
  explicit SpmModel(const Vocab& vocab);  // vocab outlives the model

  void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const override;
  void append_piece(int32_t id, std::string& out) const override;
  bool strips_leading_space() const override { return vocab_.add_space_prefix; }

 private:
  struct Scratch;
  // Merges one run of escaped text whose pieces cannot join its neighbours'.
  void encode_chunk(std::string_view text, Scratch& s, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  // No piece has "▁" right after another character, so no merge can cross the start of a
  // word: each word is merged on its own, keeping the heap small (a 1 MB prompt is one heap
  // of millions of entries otherwise). True of vocabularies trained with split_by_whitespace.
  bool split_words_ = false;
};

}  // namespace minnow::tok

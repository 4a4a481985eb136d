// Byte-level BPE (tokenizer.ggml.model "gpt2") as GPT-2 and Hugging Face tokenizers do it: the
// pre-tokenizer cuts text into pieces, each piece's bytes become GPT-2's byte-to-unicode
// characters, and adjacent symbols merge lowest merge rank first. Special tokens are not seen
// here: the Tokenizer splits them out before.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "tokenizer/model.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace minnow::tok {

// Fills in what gpt2 GGUFs leave implicit, before the vocabulary is built (llama.cpp's
// defaults): no BOS/EOS/unknown ids (not SPM's 1/2/0), no dummy-prefix space, and BOS added
// only where the pre-tokenizer family expects it (Llama 3, Tekken) unless the file says.
void apply_bpe_defaults(VocabSpec& spec);

struct BpeOptions {
  // Pieces of up to this many bytes merge by rescanning all pairs, O(n^2) but cheapest for the
  // short words that make up nearly all text; longer ones use a heap, O(n log n). Tests set 0
  // (always the heap) or a huge value (never) to check that both agree.
  size_t max_scan_word = 48;
};

class BpeModel final : public Model {
 public:
  // merges: tokenizer.ggml.merges ("A B" in rank order); a missing array or an entry that is not
  // two tokens is an error. A merge naming a token the vocabulary lacks (or whose result it
  // lacks) can never apply and is skipped, as llama.cpp does. vocab outlives the model.
  static Result<std::unique_ptr<BpeModel>> create(const Vocab& vocab, std::string_view pre,
                                                  const std::vector<std::string>* merges,
                                                  BpeOptions options = {});
  ~BpeModel() override;

  // A byte whose character is not in the vocabulary becomes unk if there is one, else nothing.
  void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const override;
  // Maps the token's characters back to bytes; characters outside the byte table are copied.
  void append_piece(int32_t id, std::string& out) const override;
  bool strips_leading_space() const override { return false; }

  struct MergeTable;
  struct Scratch;

 private:
  BpeModel(const Vocab& vocab, PreTokenizer pre, BpeOptions options);
  void encode_word(std::string_view word, Scratch& s, std::vector<int32_t>& out) const;
  void merge_by_scan(Scratch& s) const;
  void merge_by_heap(Scratch& s) const;

  const Vocab& vocab_;
  PreTokenizer pre_;
  BpeOptions options_;
  std::unique_ptr<MergeTable> merges_;
  std::array<int32_t, 256> byte_id_{};  // the token of each byte's character, or -1
};

}  // namespace minnow::tok

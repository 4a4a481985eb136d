// The interface each tokenizer.ggml.model implements (SPM now; BPE joins behind it). The
// Tokenizer splits special tokens out of the text and handles control/unknown/user-defined
// tokens; a Model only sees ordinary text and the normal and byte tokens of its vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace minnow::tok {

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one fragment of ordinary text (never empty). at_start: the fragment
  // begins the text or follows a special token (where SPM puts its dummy-prefix space).
  virtual void encode(std::string_view text, bool at_start, std::vector<int32_t>& out) const = 0;
  // Appends the output bytes of a normal or byte token (id in range).
  virtual void append_piece(int32_t id, std::string& out) const = 0;
  // Whether decoding drops one leading space from the first text piece (the dummy prefix).
  virtual bool strips_leading_space() const = 0;
};

}  // namespace minnow::tok

// Stop sequences over streamed text: text is released as soon as it can no longer be the start
// of a stop string, and generation ends at the first stop string, which is not output (as the
// OpenAI and Ollama APIs define `stop`). The tokens behind the text travel with it: each is
// handed on with the piece that releases its last byte.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/engine.h"

namespace minnow {

class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops);

  // Adds a token and its text. Returns the text now safe to output (possibly empty); `tokens`
  // receives the tokens whose text that completes. After a stop string matched, matched() is
  // true and nothing more is accepted.
  std::string push(GeneratedToken token, std::string_view text, std::vector<GeneratedToken>& tokens);
  // Adds text that belongs to no new token (the end of a UTF-8 character held back).
  std::string push_text(std::string_view text, std::vector<GeneratedToken>& tokens);
  // At the end of generation: whatever is still held (a partial stop string that never
  // completed), with the remaining tokens. Nothing after a match.
  std::string flush(std::vector<GeneratedToken>& tokens);
  bool matched() const { return matched_; }

 private:
  void release_tokens(std::vector<GeneratedToken>& out);

  std::vector<std::string> stops_;  // non-empty strings only
  std::string held_;                // text not yet released
  size_t released_ = 0;             // bytes released so far
  struct Pending {
    GeneratedToken token;
    size_t start, end;  // its text's offsets, counted from the start of generation
  };
  std::deque<Pending> pending_;
  bool matched_ = false;
};

}  // namespace minnow

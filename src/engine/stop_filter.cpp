#include "engine/stop_filter.h"

#include <algorithm>

namespace minnow {

StopFilter::StopFilter(std::vector<std::string> stops) {
  for (std::string& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

void StopFilter::release_tokens(std::vector<GeneratedToken>& out) {
  while (!pending_.empty() && pending_.front().end <= released_) {
    out.push_back(std::move(pending_.front().token));
    pending_.pop_front();
  }
}

std::string StopFilter::push(GeneratedToken token, std::string_view text, std::vector<GeneratedToken>& tokens) {
  if (matched_) return {};
  const size_t start = released_ + held_.size();
  pending_.push_back({std::move(token), start, start + text.size()});
  return push_text(text, tokens);
}

std::string StopFilter::push_text(std::string_view text, std::vector<GeneratedToken>& tokens) {
  if (matched_) return {};
  held_ += text;
  // The earliest stop string in the held text ends generation there.
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  std::string out;
  if (first != std::string::npos) {
    matched_ = true;
    out = held_.substr(0, first);
    released_ += first;
    held_.clear();
    // Tokens that began before the stop string go out with the text; the rest are dropped.
    for (Pending& p : pending_)
      if (p.start < released_) tokens.push_back(std::move(p.token));
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that could still grow into a stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > hold; --n) {
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  out = held_.substr(0, held_.size() - hold);
  held_.erase(0, out.size());
  released_ += out.size();
  release_tokens(tokens);
  return out;
}

std::string StopFilter::flush(std::vector<GeneratedToken>& tokens) {
  if (matched_) return {};
  std::string out = std::move(held_);
  held_.clear();
  released_ += out.size();
  release_tokens(tokens);
  for (Pending& p : pending_) tokens.push_back(std::move(p.token));  // tokens with no text
  pending_.clear();
  return out;
}

}  // namespace minnow

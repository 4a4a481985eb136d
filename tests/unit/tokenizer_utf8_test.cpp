// Utf8Stream: holds back incomplete sequences, replaces invalid bytes, never emits a partial
// character whatever the split points.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace minnow {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string stream_all(const std::vector<std::string>& chunks) {
  Utf8Stream s;
  std::string out;
  for (const std::string& c : chunks) out += s.push(c);
  return out + s.flush();
}

TEST(TokenizerUtf8, EverySplitPoint) {
  // ASCII, 2-byte é, 3-byte ▁ and 世, 4-byte emoji 🦙 and 😶‍🌫️ (ZWJ sequence).
  const std::string text =
      "a\xC3\xA9\xE2\x96\x81\xE4\xB8\x96\xF0\x9F\xA6\x99 "
      "\xF0\x9F\x98\xB6\xE2\x80\x8D\xF0\x9F\x8C\xAB\xEF\xB8\x8F";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      Utf8Stream s;
      const std::string parts[] = {s.push(text.substr(0, i)), s.push(text.substr(i, j - i)),
                                   s.push(text.substr(j))};
      for (const std::string& p : parts) {
        auto st = utf8::scan(p.empty() ? std::string_view("a") : std::string_view(p));
        EXPECT_NE(st.status, utf8::Scan::kIncomplete);
      }
      EXPECT_EQ(parts[0] + parts[1] + parts[2] + s.flush(), text) << i << " " << j;
    }
  }
}

TEST(TokenizerUtf8, HoldsBackOnlyIncompleteTail) {
  Utf8Stream s;
  EXPECT_EQ(s.push("ab\xF0\x9F"), "ab");
  EXPECT_EQ(s.push("\xA6"), "");
  EXPECT_EQ(s.push("\x99!"), "\xF0\x9F\xA6\x99!");
  EXPECT_EQ(s.flush(), "");
  // Byte by byte, as SPM byte tokens arrive.
  EXPECT_EQ(s.push("\xE4"), "");
  EXPECT_EQ(s.push("\xB8"), "");
  EXPECT_EQ(s.push("\x96"), "\xE4\xB8\x96");
}

TEST(TokenizerUtf8, InvalidBytesBecomeReplacement) {
  EXPECT_EQ(stream_all({"\x80"}), kFffd);  // stray continuation
  EXPECT_EQ(stream_all({"a\xFF"
                        "b"}),
            "a" + kFffd + "b");                                                // invalid lead
  EXPECT_EQ(stream_all({"\xC0\xAF"}), kFffd + kFffd);                          // overlong '/'
  EXPECT_EQ(stream_all({"\xE0\x80\x80"}), kFffd + kFffd + kFffd);              // overlong 3-byte
  EXPECT_EQ(stream_all({"\xED\xA0\x80"}), kFffd + kFffd + kFffd);              // surrogate D800
  EXPECT_EQ(stream_all({"\xF4\x90\x80\x80"}), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(stream_all({"\xE2\x82"
                        "A"}),
            kFffd + "A");  // truncated, then ASCII
  EXPECT_EQ(stream_all({"\xE2", "\x82", "A"}), kFffd + "A");
  EXPECT_EQ(stream_all({"x\xF0\x9F\x98"}), "x" + kFffd);  // truncated at the end
  EXPECT_EQ(stream_all({std::string("\0", 1)}), std::string("\0", 1));
}

TEST(TokenizerUtf8, InvalidNeverHeld) {
  Utf8Stream s;
  // An invalid byte is resolved at once; only a well-formed prefix waits.
  EXPECT_EQ(s.push("\x80"), kFffd);
  EXPECT_EQ(s.push("\xC3\x28"), kFffd + "(");
  EXPECT_EQ(s.push("\xF0\x9F\x98"), "");
  EXPECT_EQ(s.push("\xF0"), kFffd);  // the held prefix is broken by a new lead byte
  EXPECT_EQ(s.push("\x9F\x98\x81"), "\xF0\x9F\x98\x81");
}

}  // namespace
}  // namespace minnow

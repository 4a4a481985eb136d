// StopFilter: text is released as soon as it cannot start a stop string, the first stop string
// ends the output (not included), partial matches that never complete are released at the end,
// and each token goes out with the text that completes it.
#include "engine/stop_filter.h"

#include <gtest/gtest.h>

namespace minnow {
namespace {

GeneratedToken tok(int32_t id) {
  GeneratedToken t;
  t.id = id;
  return t;
}

struct Fed {
  std::string text;                // everything released, in order
  std::vector<std::string> pieces;  // each push's release
  std::vector<int32_t> ids;         // tokens released, in order
  bool matched = false;
};

Fed feed(const std::vector<std::string>& stops, const std::vector<std::string>& texts) {
  StopFilter f(stops);
  Fed r;
  std::vector<GeneratedToken> out;
  for (size_t i = 0; i < texts.size() && !f.matched(); ++i) {
    const std::string p = f.push(tok(static_cast<int32_t>(i)), texts[i], out);
    r.pieces.push_back(p);
    r.text += p;
  }
  r.matched = f.matched();
  r.text += f.flush(out);
  for (const auto& t : out) r.ids.push_back(t.id);
  return r;
}

TEST(StopFilter, NoStopsPassesEverythingAtOnce) {
  const Fed r = feed({}, {"Hel", "lo", " world"});
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(r.pieces, (std::vector<std::string>{"Hel", "lo", " world"}));
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_FALSE(r.matched);
}

TEST(StopFilter, StopStringAcrossTokensIsCutAndNotOutput) {
  const Fed r = feed({"\nUser:"}, {"Sure", ".\n", "Us", "er:", " more"});
  EXPECT_TRUE(r.matched);
  EXPECT_EQ(r.text, "Sure.");
  // ".\n" is held at "\n" (it may start the stop string), "Us" too; the match drops them.
  EXPECT_EQ(r.pieces, (std::vector<std::string>{"Sure", ".", "", ""}));
  // Tokens 0 and 1 began before the stop string; 2 and 3 are inside it.
  EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));
}

TEST(StopFilter, PartialMatchThatFailsIsReleased) {
  const Fed r = feed({"END"}, {"the EN", "D-less", " story", " E"});
  // "EN" + "D-less" forms "END": a match.
  EXPECT_TRUE(r.matched);
  EXPECT_EQ(r.text, "the ");
  const Fed q = feed({"END"}, {"the EN", "ough", " E"});
  EXPECT_FALSE(q.matched);
  EXPECT_EQ(q.pieces, (std::vector<std::string>{"the ", "ENough", " "}));
  EXPECT_EQ(q.text, "the ENough E");  // the trailing "E" released at the end
  EXPECT_EQ(q.ids, (std::vector<int32_t>{0, 1, 2}));
}

TEST(StopFilter, EarliestOfSeveralStopsWins) {
  const Fed r = feed({"world", "lo"}, {"Hello world"});
  EXPECT_TRUE(r.matched);
  EXPECT_EQ(r.text, "Hel");
  const Fed s = feed({"", "x"}, {"abc"});  // empty stop strings are ignored
  EXPECT_FALSE(s.matched);
  EXPECT_EQ(s.text, "abc");
}

TEST(StopFilter, StopAtTheVeryStartOutputsNothing) {
  const Fed r = feed({"###"}, {"##", "#", "tail"});
  EXPECT_TRUE(r.matched);
  EXPECT_EQ(r.text, "");
  EXPECT_TRUE(r.ids.empty());
}

TEST(StopFilter, TextWithoutATokenJoinsTheStream) {
  StopFilter f({"ab"});
  std::vector<GeneratedToken> out;
  EXPECT_EQ(f.push(tok(7), "xa", out), "x");
  EXPECT_TRUE(out.empty());  // its "a" is still held
  EXPECT_EQ(f.push_text("c", out), "ac");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 7);
  EXPECT_EQ(f.push_text("ab", out), "");
  EXPECT_TRUE(f.matched());
  EXPECT_EQ(f.flush(out), "");
}

}  // namespace
}  // namespace minnow

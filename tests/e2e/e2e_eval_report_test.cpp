// The HTML report of `minnow eval` in a real browser: headless Chromium renders it to a PNG that
// must not be blank (decoded here with zlib and compared with an empty page's screenshot), and
// its DOM must hold the four charts. Skips when chromium-headless-shell is not installed
// (scripts/setup installs it).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "e2e/cli_runner.h"
#include "e2e/gold_upstream.h"
#include "test_util.h"

namespace minnow {
namespace {

const char* kStories = "models/stories260K.gguf";

std::string find_chromium() {
  for (const char* p : {"/usr/bin/chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // [height][width][3]
};

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint8_t(s[at + 3]);
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// The 8-bit RGB or RGBA non-interlaced PNGs Chromium writes; anything else fails the test.
Image decode_png(const std::string& png) {
  Image img;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::string idat;
  int channels = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    if (at + 12 + len > png.size()) break;
    if (type == "IHDR") {
      img.width = static_cast<int>(be32(png, at + 8));
      img.height = static_cast<int>(be32(png, at + 12));
      const int depth = uint8_t(png[at + 16]), color = uint8_t(png[at + 17]), interlace = uint8_t(png[at + 20]);
      EXPECT_EQ(depth, 8);
      EXPECT_EQ(interlace, 0);
      channels = color == 2 ? 3 : color == 6 ? 4 : 0;
      EXPECT_NE(channels, 0) << "color type " << color;
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    at += 12 + len;
  }
  if (channels == 0 || img.width <= 0 || img.height <= 0) return {};
  const size_t stride = static_cast<size_t>(img.width) * channels;
  std::vector<uint8_t> raw((stride + 1) * img.height);
  uLongf raw_len = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()), idat.size()), Z_OK);
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* line = raw.data() + y * (stride + 1);
    const int filter = line[0];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= size_t(channels) ? cur[i - channels] : 0, b = prev[i],
                c = i >= size_t(channels) ? prev[i - channels] : 0;
      const int pred = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2 : filter == 4 ? paeth(a, b, c) : 0;
      cur[i] = static_cast<uint8_t>(line[1 + i] + pred);
    }
    for (int x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb[(size_t(y) * img.width + x) * 3 + k] = cur[size_t(x) * channels + k];
    prev.swap(cur);
  }
  return img;
}

struct Ink {
  double non_white = 0;  // share of pixels that are not white
  size_t colors = 0;     // distinct colors
};

Ink ink(const Image& img) {
  Ink r;
  std::set<uint32_t> colors;
  size_t dark = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3) {
    const uint32_t c = (uint32_t(img.rgb[i]) << 16) | (uint32_t(img.rgb[i + 1]) << 8) | img.rgb[i + 2];
    colors.insert(c);
    dark += c != 0xffffff;
  }
  r.non_white = img.rgb.empty() ? 0 : static_cast<double>(dark) / (img.rgb.size() / 3);
  r.colors = colors.size();
  return r;
}

// Runs the browser on a file; what it prints goes to out_path. True when it exited 0.
bool chromium(const std::string& bin, const std::string& args, const std::string& html, const std::string& out_path) {
  const std::string cmd = "timeout 120 " + bin + " --headless --no-sandbox --disable-gpu " + args + " 'file://" + html +
                          "' > '" + out_path + "' 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

TEST(EvalReport, RendersInHeadlessChromium) {
  const std::string bin = find_chromium();
  if (bin.empty()) GTEST_SKIP() << "needs chromium-headless-shell (scripts/setup installs it): not installed";
  MINNOW_REQUIRE_SHARED(kStories);
  const auto dir = std::filesystem::temp_directory_path() / ("minnow_eval_report_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto at = [&](const char* name) { return (dir / name).string(); };

  auto data = test::parity_dataset();
  test::GoldUpstream gold(data);
  test::write_upstreams(at("ups.json"), {{"gold", gold.port()}});
  test::write_jsonl(at("data.jsonl"), data);
  auto r = test::run_cli({"eval", "--data", at("data.jsonl"), "--model", test::shared_path(kStories), "--model", "gold",
                          "--upstreams", at("ups.json"), "--seed", "1", "--num-predict", "4", "--threads", "2",
                          "--report", at("report.html")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ofstream(at("empty.html")) << "<!DOCTYPE html><html><body></body></html>\n";

  ASSERT_TRUE(chromium(bin, "--dump-dom", at("report.html"), at("dom.html")));
  const std::string dom = test::read_file(at("dom.html"));
  for (const char* cls : {"chart score", "chart latency", "chart cost", "chart curve"})
    EXPECT_NE(dom.find(std::string("<svg class=\"") + cls + "\""), std::string::npos) << cls << " missing from the DOM";

  const std::string size = "--window-size=1200,1600";
  ASSERT_TRUE(chromium(bin, "--screenshot=" + at("report.png") + " " + size, at("report.html"), at("log1")));
  ASSERT_TRUE(chromium(bin, "--screenshot=" + at("empty.png") + " " + size, at("empty.html"), at("log2")));
  Image report = decode_png(test::read_file(at("report.png")));
  Image empty = decode_png(test::read_file(at("empty.png")));
  ASSERT_EQ(report.width, 1200);
  ASSERT_EQ(report.height, 1600);
  const Ink a = ink(report), b = ink(empty);
  EXPECT_LT(b.non_white, 0.001) << "the empty page should render white";
  // Text, tables and colored bars: a few percent of the page is ink, in many colors.
  EXPECT_GT(a.non_white, 0.02);
  EXPECT_GT(a.colors, 20u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace minnow

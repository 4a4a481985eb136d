// The golden tokenizer cases of ../shared/tokenizer-tests (FORMAT.md there): test strings
// separated by "\n__ggml_vocab_test__\n" in NAME.inp, one line of expected ids each in NAME.out.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "tokenizer/tokenizer.h"
#include "gguf/gguf.h"

namespace minnow::test {

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// rel: the vocabulary's path under ../shared ("tokenizer-tests/ggml-vocab-gpt-2.gguf").
inline std::vector<Case> read_cases(const std::string& rel) {
  const std::string inp = read_all(shared_path(rel + ".inp"));
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  size_t pos = 0;
  while (pos < inp.size()) {
    size_t end = inp.find(sep, pos);
    if (end == std::string::npos) end = inp.size();
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end == inp.size() ? end : end + sep.size();
  }
  std::istringstream out(read_all(shared_path(rel + ".out")));
  std::string line;
  for (Case& c : cases) {
    if (!std::getline(out, line)) break;
    std::istringstream ls(line);
    for (int32_t id; ls >> id;) c.ids.push_back(id);
  }
  return cases;
}

// A vocabulary from ../shared. The caller's test cannot go on without it: a failure is reported
// and the test binary stops (rather than using a Tokenizer that does not exist).
inline Tokenizer load_tokenizer(const std::string& rel) {
  auto file = gguf::File::open(shared_path(rel));
  auto tok = file.ok() ? Tokenizer::from_gguf(*file) : Result<Tokenizer>(file.error());
  if (!tok.ok()) {
    ADD_FAILURE() << rel << ": " << tok.error().message;
    std::fprintf(stderr, "cannot load %s: %s\n", rel.c_str(), tok.error().message.c_str());
    std::abort();
  }
  return std::move(tok).value();
}

inline std::string show(const std::vector<int32_t>& ids);

// Every case encodes (no BOS/EOS, special-token text as text: FORMAT.md) to exactly its ids.
inline void expect_reference_ids(const Tokenizer& tok, const std::vector<Case>& cases, const std::string& label) {
  int pass = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> got = tok.encode(c.text, /*add_bos=*/false, /*parse_special=*/false);
    if (got == c.ids) {
      ++pass;
    } else {
      ADD_FAILURE() << label << ": text '" << c.text << "'\n  want" << show(c.ids) << "\n  got " << show(got);
    }
  }
  EXPECT_EQ(pass, static_cast<int>(cases.size()));
  std::printf("%s: %d/%zu strings match\n", label.c_str(), pass, cases.size());
}

inline std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

}  // namespace minnow::test

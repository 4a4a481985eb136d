// What pull_model needs to know of a Hugging Face repository: its file listing (the tree API's
// JSON) and which GGUF file a quant names. No network here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "minnow/error.h"
#include "minnow/pull.h"

namespace minnow::hf {

struct RepoFile {
  std::string path;    // inside the repository ("Model-Q4_K_M.gguf", "Q8_0/Model-Q8_0-00001-of-00002.gguf")
  uint64_t size = 0;
  std::string sha256;  // lfs.oid: the SHA-256 of the file's bytes ("" for a file not in LFS)
};

// The files of GET {endpoint}/api/models/ORG/REPO/tree/main?recursive=true (a JSON array of
// {type, path, size, lfs: {oid, size}}); folders are left out.
Result<std::vector<RepoFile>> parse_tree(std::string_view json_text);

// The GGUF file of `repo` for the quant: the one whose name has it as a '-' or '.' separated
// token, case-insensitively. An empty quant takes Q4_K_M, else the only GGUF (vision projector
// files "mmproj-*" do not count). Errors list the quants there are, and refuse split GGUFs.
Result<RepoFile> choose_gguf(const std::vector<RepoFile>& files, const PullSource& source);

// The quant a GGUF file name carries ("Q4_K_M" for "SmolLM2-135M-Instruct-Q4_K_M.gguf"), as
// written; "" when none is recognizable.
std::string quant_of(std::string_view path);

}  // namespace minnow::hf

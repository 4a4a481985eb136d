// Runs the built minnow binary with arguments and captures exit code, stdout and stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace minnow::test {

struct CliResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out;
  std::string err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs MINNOW_BINARY with args (no shell), stdin from /dev/null unless stdin_text is given.
inline CliResult run_cli(const std::vector<std::string>& args, const std::string* stdin_text = nullptr) {
  static int counter = 0;
  const std::string base = (std::filesystem::temp_directory_path() /
                            ("minnow_cli_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
                               .string();
  const std::string out_path = base + ".out", err_path = base + ".err", in_path = base + ".in";
  {
    std::ofstream in(in_path, std::ios::binary);
    if (stdin_text) in << *stdin_text;
  }
  pid_t pid = fork();
  if (pid == 0) {
    FILE* in = std::freopen(in_path.c_str(), "rb", stdin);
    FILE* out = std::freopen(out_path.c_str(), "wb", stdout);
    FILE* err = std::freopen(err_path.c_str(), "wb", stderr);
    if (!in || !out || !err) _exit(127);
    std::vector<char*> argv;
    std::string bin = MINNOW_BINARY;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  std::filesystem::remove(in_path);
  return r;
}

}  // namespace minnow::test

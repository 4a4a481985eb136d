// `minnow bench MODEL`: prompt processing and generation speed, as medians of repeated runs,
// with the bandwidth and FLOP rates they imply and their ratio to this machine's limits
// (measured with ../shared/tools/roofline.cpp and passed in). Speed is measured here, never
// by timed tests.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "cli/model_ref.h"
#include "minnow/engine.h"

namespace minnow::cli {
namespace {

struct BenchArgs {
  std::string model;
  int n_prompt = 512;
  int n_gen = 128;
  int repeats = 5;
  int threads = 0;
  std::string isa;
  bool no_repack = false;
  double bandwidth_gbs = 0;  // the machine's read bandwidth, GB/s (0: unknown)
  double peak_gflops = 0;    // the machine's peak FMA rate, GFLOP/s (0: unknown)
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int bench(const BenchArgs& a) {
  LoadOptions lo;
  lo.n_threads = a.threads;
  lo.isa = a.isa;
  lo.repack = !a.no_repack;
  auto ref = resolve_model(a.model);
  if (!ref) return fail(ref.error().message);
  auto model = Model::load(ref->path, lo);
  if (!model) return fail(model.error().message);
  const ModelInfo& info = (*model)->info();
  SessionOptions so;
  so.n_ctx = a.n_prompt + a.n_gen + 1;
  so.n_batch = std::max(1, a.n_prompt);
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);
  Session& s = **session;

  // Token ids drawn once from a fixed seed: speed does not depend on which tokens they are.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(a.n_prompt);
  for (int32_t& t : prompt) t = pick(rng);

  std::vector<double> pp, tg;
  for (int r = 0; r < a.repeats + 1; ++r) {  // the first round warms caches and page mappings
    if (a.n_prompt > 0) {
      s.reset();
      const double t0 = now_s();
      if (auto st = s.eval(prompt, false); !st) return fail(st.error().message);
      if (r > 0) pp.push_back(a.n_prompt / (now_s() - t0));
    }
    if (a.n_gen > 0) {
      s.reset();
      const int32_t first[1] = {pick(rng)};
      if (auto st = s.eval(first, false); !st) return fail(st.error().message);
      const double t0 = now_s();
      for (int i = 0; i < a.n_gen; ++i) {
        const int32_t tok[1] = {pick(rng)};
        if (auto st = s.eval(tok, false); !st) return fail(st.error().message);
      }
      if (r > 0) tg.push_back(a.n_gen / (now_s() - t0));
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);

  std::printf("model: %s (%s, %s, %.1fM params, %.1f MiB of weights read per token)\n", info.path.c_str(),
              info.architecture.c_str(), info.quantization.c_str(), info.n_params / 1e6,
              info.weight_bytes_per_token / 1048576.0);
  std::printf("kernels: %s, threads: %d, repeats: %d (medians)\n", info.isa.c_str(), info.n_threads, a.repeats);
  std::printf("%-8s %12s %12s %14s %10s\n", "test", "tokens/s", "min..max", "rate", "of limit");
  if (!pp.empty()) {
    const double m = median(pp);
    const double gflops = m * static_cast<double>(info.flops_per_token) / 1e9;
    std::printf("%-8s %12.1f %5.0f..%-6.0f %9.1f GFLOP/s %9s\n", ("pp" + std::to_string(a.n_prompt)).c_str(), m,
                *std::min_element(pp.begin(), pp.end()), *std::max_element(pp.begin(), pp.end()), gflops,
                a.peak_gflops > 0 ? strfmt("%.1f%%", 100 * gflops / a.peak_gflops).c_str() : "-");
  }
  if (!tg.empty()) {
    const double m = median(tg);
    const double gbs = m * static_cast<double>(info.weight_bytes_per_token) / 1e9;
    std::printf("%-8s %12.1f %5.0f..%-6.0f %9.2f GB/s    %9s\n", ("tg" + std::to_string(a.n_gen)).c_str(), m,
                *std::min_element(tg.begin(), tg.end()), *std::max_element(tg.begin(), tg.end()), gbs,
                a.bandwidth_gbs > 0 ? strfmt("%.1f%%", 100 * gbs / a.bandwidth_gbs).c_str() : "-");
  }
  std::printf("peak RSS: %.1f MiB\n", ru.ru_maxrss / 1024.0);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation speed against the machine's limits");
  cmd->add_option("model", a->model, "A .gguf file or a model name in the store")->required();
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens per run")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-n,--n-gen", a->n_gen, "Generated tokens per run")->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-r,--repeats", a->repeats, "Timed runs (medians are reported)")->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar, avx2, avx512 or amx");
  cmd->add_flag("--no-repack", a->no_repack,
                "Keep the file's weight layout (no load-time packing), to compare");
  cmd->add_option("--bandwidth", a->bandwidth_gbs, "This machine's read bandwidth in GB/s (from roofline)");
  cmd->add_option("--peak-gflops", a->peak_gflops, "This machine's peak FMA rate in GFLOP/s (from roofline)");
  cmd->callback([a, exit_code] { *exit_code = bench(*a); });
}

}  // namespace minnow::cli

// `minnow bench MODEL`: prompt processing and generation speed, time to first token and peak
// memory, as medians of repeated runs, with the bandwidth and FLOP rates they imply and their
// ratio to this machine's limits. The read bandwidth is measured in the same run (or given with
// --bandwidth, e.g. from ../shared/tools/roofline.cpp); the FMA peak is given. With --parallel N,
// the aggregate generation speed of N sequences batched together against one. Speed is measured
// here, never by timed tests.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <tuple>
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
  int n_ttft = 64;  // prompt tokens before the first generated token
  int repeats = 5;
  int threads = 0;
  std::string isa;
  bool no_repack = false;
  double bandwidth_gbs = 0;  // the machine's read bandwidth, GB/s (0: measure it)
  double peak_gflops = 0;    // the machine's peak FMA rate, GFLOP/s (0: unknown)
  bool json = false;
  int parallel = 0;  // > 0: generation of this many sequences together against one alone
};

struct Series {
  std::string name;  // "pp512", "tg128", "ttft64"
  std::vector<double> samples;
  double median() const {
    std::vector<double> v = samples;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }
  double min() const { return *std::min_element(samples.begin(), samples.end()); }
  double max() const { return *std::max_element(samples.begin(), samples.end()); }
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// One round of --parallel: n calls at once on the generator, each with its own prompt of
// kParallelPrompt random ids and its own seed, generating up to n_gen tokens with the default
// sampling. Returns all their tokens over the time from the first call's prompt being in to the
// last call's end (prompts excluded, as tg excludes them), and adds the tokens to *total.
constexpr int kParallelPrompt = 16;
double parallel_round(BatchGenerator& g, int n, int n_gen, std::mt19937& rng, int n_vocab, int64_t* total,
                      std::string* error) {
  std::uniform_int_distribution<int32_t> pick(0, n_vocab - 1);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(n));
  std::vector<GenerateOptions> options(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (int t = 0; t < kParallelPrompt; ++t) prompts[i].push_back(pick(rng));
    options[i].num_predict = n_gen;
    options[i].sampling.seed = rng();
  }
  std::vector<Result<GenerateStats>> stats(static_cast<size_t>(n), Error{"not run"});
  std::vector<double> ends(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      stats[i] = g.generate(prompts[i], options[i], [](const GeneratedPiece&) { return true; });
      ends[i] = now_s();
    });
  }
  for (std::thread& t : threads) t.join();
  double first = ends[0], last = ends[0];
  int64_t tokens = 0;
  for (int i = 0; i < n; ++i) {
    if (!stats[i]) {
      *error = stats[i].error().message;
      return 0;
    }
    // A call's generation began generate_seconds before it returned.
    first = std::min(first, ends[i] - stats[i]->generate_seconds);
    last = std::max(last, ends[i]);
    tokens += stats[i]->generated_tokens;
  }
  *total += tokens;
  return last > first ? static_cast<double>(tokens) / (last - first) : 0;
}

// --parallel N: generation speed of N sequences decoding together (BatchGenerator, N slots)
// against one sequence alone on the same generator, as medians of the repetitions.
int bench_parallel(const BenchArgs& a, const std::shared_ptr<Model>& model) {
  const ModelInfo& info = model->info();
  const int n = a.parallel;
  auto g = BatchGenerator::create(model, BatchOptions{.n_slots = n, .n_ctx = kParallelPrompt + a.n_gen + 1});
  if (!g) return fail(g.error().message);
  std::mt19937 rng(1234);
  const std::string name = "tg" + std::to_string(a.n_gen);
  Series one{name + "x1", {}}, many{name + "x" + std::to_string(n), {}};
  int64_t tokens_one = 0, tokens_many = 0;
  std::string error;
  for (int r = 0; r < a.repeats + 1; ++r) {  // the first round warms caches and page mappings
    int64_t t1 = 0, tn = 0;
    const double s1 = parallel_round(**g, 1, a.n_gen, rng, static_cast<int>(info.n_vocab), &t1, &error);
    const double sn = parallel_round(**g, n, a.n_gen, rng, static_cast<int>(info.n_vocab), &tn, &error);
    if (!error.empty()) return fail(error);
    if (r == 0) continue;
    one.samples.push_back(s1);
    many.samples.push_back(sn);
    tokens_one += t1;
    tokens_many += tn;
  }
  const double ratio = one.median() > 0 ? many.median() / one.median() : 0;
  if (a.json) {
    auto series = [](const Series& x, int sequences, int64_t tokens) {
      return nlohmann::json{{"test", x.name},       {"sequences", sequences}, {"tokens_per_s", x.median()},
                            {"min", x.min()},       {"max", x.max()},         {"samples", x.samples},
                            {"tokens", tokens}};
    };
    const nlohmann::json out = {{"model", info.path},
                                {"architecture", info.architecture},
                                {"quantization", info.quantization},
                                {"kernels", info.isa},
                                {"threads", info.n_threads},
                                {"repetitions", a.repeats},
                                {"parallel", n},
                                {"parallel_speedup", ratio},
                                {"tests", {series(one, 1, tokens_one), series(many, n, tokens_many)}}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model: %s (%s, %s, %.1fM params)\n", info.path.c_str(), info.architecture.c_str(),
              info.quantization.c_str(), info.n_params / 1e6);
  std::printf("kernels: %s, threads: %d, repetitions: %d (medians); %d-token prompts, default sampling\n",
              info.isa.c_str(), info.n_threads, a.repeats, kParallelPrompt);
  std::printf("%-10s %9s %12s %15s %9s\n", "test", "sequences", "tokens/s", "min..max", "tokens");
  for (const auto& [x, seqs, tokens] : {std::tuple{&one, 1, tokens_one}, std::tuple{&many, n, tokens_many}})
    std::printf("%-10s %9d %12.1f %7.1f..%-7.1f %9lld\n", x->name.c_str(), seqs, x->median(), x->min(), x->max(),
                static_cast<long long>(tokens));
  std::printf("aggregate generation with %d sequences: %.2fx one sequence's\n", n, ratio);
  return 0;
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
  if (a.parallel > 0) return bench_parallel(a, *model);
  const ModelInfo& info = (*model)->info();
  SessionOptions so;
  so.n_ctx = std::max(a.n_prompt, a.n_ttft) + a.n_gen + 1;
  so.n_batch = std::max({1, a.n_prompt, a.n_ttft});
  auto session = (*model)->new_session(so);
  if (!session) return fail(session.error().message);
  Session& s = **session;

  // Token ids drawn once from a fixed seed: speed does not depend on which tokens they are.
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(info.n_vocab - 1));
  std::vector<int32_t> prompt(std::max(a.n_prompt, a.n_ttft));
  for (int32_t& t : prompt) t = pick(rng);

  Series pp{"pp" + std::to_string(a.n_prompt), {}}, tg{"tg" + std::to_string(a.n_gen), {}};
  Series ttft{"ttft" + std::to_string(a.n_ttft), {}};  // milliseconds
  for (int r = 0; r < a.repeats + 1; ++r) {  // the first round warms caches and page mappings
    if (a.n_prompt > 0) {
      s.reset();
      const double t0 = now_s();
      if (auto st = s.eval(std::span(prompt).first(a.n_prompt), false); !st) return fail(st.error().message);
      if (r > 0) pp.samples.push_back(a.n_prompt / (now_s() - t0));
    }
    if (a.n_ttft > 0) {  // a fresh context: the prompt, then the first (greedy) token chosen
      s.reset();
      const double t0 = now_s();
      if (auto st = s.eval(std::span(prompt).first(a.n_ttft), false); !st) return fail(st.error().message);
      const int32_t first = argmax(s.logits(0));
      if (r > 0) ttft.samples.push_back(1000 * (now_s() - t0));
      if (first < 0) return fail("no logits");
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
      if (r > 0) tg.samples.push_back(a.n_gen / (now_s() - t0));
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mib = ru.ru_maxrss / 1024.0;  // before the bandwidth probe's buffer
  const bool measured = a.bandwidth_gbs <= 0 && a.n_gen > 0;
  const double bandwidth = measured ? measure_read_bandwidth(info.n_threads) : a.bandwidth_gbs;

  const double pp_gflops = pp.samples.empty() ? 0 : pp.median() * static_cast<double>(info.flops_per_token) / 1e9;
  const double tg_gbs = tg.samples.empty() ? 0 : tg.median() * static_cast<double>(info.weight_bytes_per_token) / 1e9;
  if (a.json) {
    nlohmann::json out = {{"model", info.path},
                          {"architecture", info.architecture},
                          {"quantization", info.quantization},
                          {"params", info.n_params},
                          {"weight_bytes_per_token", info.weight_bytes_per_token},
                          {"flops_per_token", info.flops_per_token},
                          {"kernels", info.isa},
                          {"threads", info.n_threads},
                          {"repetitions", a.repeats},
                          {"peak_rss_mib", rss_mib}};
    if (bandwidth > 0) out["bandwidth_gbs"] = bandwidth, out["bandwidth_measured"] = measured;
    if (a.peak_gflops > 0) out["peak_gflops"] = a.peak_gflops;
    auto series = [](const Series& x, const char* unit) {
      return nlohmann::json{{"test", x.name}, {unit, x.median()}, {"min", x.min()}, {"max", x.max()},
                            {"samples", x.samples}};
    };
    nlohmann::json tests = nlohmann::json::array();
    if (!pp.samples.empty()) {
      auto j = series(pp, "tokens_per_s");
      j["gflops"] = pp_gflops;
      if (a.peak_gflops > 0) j["fraction_of_peak"] = pp_gflops / a.peak_gflops;
      tests.push_back(j);
    }
    if (!tg.samples.empty()) {
      auto j = series(tg, "tokens_per_s");
      j["gbs"] = tg_gbs;
      if (bandwidth > 0) j["fraction_of_bandwidth"] = tg_gbs / bandwidth;
      tests.push_back(j);
    }
    if (!ttft.samples.empty()) tests.push_back(series(ttft, "ms"));
    out["tests"] = tests;
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model: %s (%s, %s, %.1fM params, %.1f MiB of weights read per token)\n", info.path.c_str(),
              info.architecture.c_str(), info.quantization.c_str(), info.n_params / 1e6,
              info.weight_bytes_per_token / 1048576.0);
  std::printf("kernels: %s, threads: %d, repetitions: %d (medians)\n", info.isa.c_str(), info.n_threads, a.repeats);
  if (bandwidth > 0)
    std::printf("read bandwidth: %.1f GB/s (%s)\n", bandwidth, measured ? "measured now" : "given");
  std::printf("%-8s %12s %15s %16s %9s\n", "test", "tokens/s", "min..max", "rate", "of limit");
  if (!pp.samples.empty())
    std::printf("%-8s %12.1f %7.0f..%-7.0f %9.1f GFLOP/s %8s\n", pp.name.c_str(), pp.median(), pp.min(), pp.max(),
                pp_gflops, a.peak_gflops > 0 ? strfmt("%.1f%%", 100 * pp_gflops / a.peak_gflops).c_str() : "-");
  if (!tg.samples.empty())
    std::printf("%-8s %12.1f %7.1f..%-7.1f %9.2f GB/s    %8s\n", tg.name.c_str(), tg.median(), tg.min(), tg.max(),
                tg_gbs, bandwidth > 0 ? strfmt("%.1f%%", 100 * tg_gbs / bandwidth).c_str() : "-");
  if (!ttft.samples.empty())
    std::printf("time to first token (%d-token prompt): %.1f ms (%.1f..%.1f)\n", a.n_ttft, ttft.median(),
                ttft.min(), ttft.max());
  std::printf("peak RSS: %.1f MiB\n", rss_mib);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt and generation speed against the machine's limits");
  cmd->add_option("model", a->model, "A .gguf file or a model name in the store")->required();
  cmd->add_option("-p,--prompt-tokens,--n-prompt", a->n_prompt, "Prompt tokens per run (0: no prompt test)")
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-n,--gen-tokens,--n-gen", a->n_gen, "Generated tokens per run (0: no generation test)")
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("--ttft-tokens", a->n_ttft, "Prompt tokens before the first token is timed (0: no TTFT test)")
      ->check(CLI::Range(0, 1 << 16));
  cmd->add_option("-r,--repetitions,--repeats", a->repeats, "Timed runs (medians are reported)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("-t,--threads", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--isa", a->isa, "Force the kernel set: scalar, avx2, avx512 or amx");
  cmd->add_option("--bandwidth", a->bandwidth_gbs,
                  "This machine's read bandwidth in GB/s (default: measured after the runs)");
  cmd->add_flag("--no-repack", a->no_repack,
                "Keep the file's weight layout (no load-time packing), to compare");
  cmd->add_option("--peak-gflops", a->peak_gflops, "This machine's peak FMA rate in GFLOP/s (from roofline)");
  cmd->add_flag("--json", a->json, "Print the results as JSON");
  cmd->add_option("--parallel", a->parallel,
                  "Instead: generation of N sequences decoding together against one alone (aggregate tokens/s)")
      ->check(CLI::Range(1, 256));
  cmd->callback([a, exit_code] { *exit_code = bench(*a); });
}

}  // namespace minnow::cli

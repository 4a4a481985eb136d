// BatchGenerator (include/minnow/engine.h): slots holding a KV cache and the tokens it keeps, the
// queue of calls waiting for a slot, and the worker thread that steps the batch (admit waiting
// calls, plan the step's tokens, one forward_batch, each sequence's Generation on its row).
// Pieces go back to the calling threads, which hand them to on_piece: a slow reader delays only
// its own stream, never the batch.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/generation.h"
#include "engine/model_impl.h"

namespace minnow {
namespace {

using Clock = std::chrono::steady_clock;

// Slots beyond this would be a mistake in the options (each is a whole KV cache).
constexpr int kMaxSlots = 1024;

// A piece on its way to the calling thread.
struct Piece {
  std::string text;
  std::vector<GeneratedToken> tokens;
  int generated = 0;  // tokens generated when it was made: the count if the caller stops here
  bool last = false;  // made once the end was decided (the caller's answer does not matter)
};

}  // namespace

struct BatchGenerator::Impl {
  // One generate() call, on its caller's stack until the worker has finished it.
  struct Request {
    Request(std::span<const int32_t> p, const GenerateOptions& o) : prompt(p), options(o) {}
    const std::span<const int32_t> prompt;
    const GenerateOptions& options;
    // The worker's alone:
    int slot = -1;
    int64_t prompt_done = 0;  // prompt tokens the slot's cache holds
    Clock::time_point joined;
    GenerateStats stats;  // the prompt's part
    std::optional<Generation> gen;  // from the prompt's last logits on
    int32_t next = 0;               // while gen runs: the token the next step evaluates
    std::vector<Piece> outbox;      // made in this step, handed over after it
    // Shared with the caller, under mu:
    std::deque<Piece> pieces;
    bool finished = false;
    Status error;
    std::condition_variable cv;  // pieces came, or finished
    // Set by the caller when on_piece returned false (or threw); the worker ends the sequence.
    std::atomic<bool> cancelled{false};
  };

  struct Slot {
    KvCache cache;
    std::vector<int32_t> context;  // [cache.n_past()] the tokens whose keys and values it holds
    Request* request = nullptr;
    uint64_t last_used = 0;  // among slots that score the same in admit(), the least recently used goes
  };

  std::shared_ptr<Model> owner;  // keeps the weights mapped
  Model::Impl* model = nullptr;
  BatchOptions options;
  int n_vocab = 0;
  std::vector<Slot> slots;

  mutable std::mutex mu;
  std::condition_variable work_cv;  // a call is waiting, or stopping
  std::deque<Request*> waiting;     // first come, first served
  std::vector<Request*> running;    // in the order they joined
  bool stopping = false;
  uint64_t clock = 0;
  std::thread worker;

  // The worker's step buffers, reused.
  nn::Scratch scratch;
  std::vector<int32_t> tokens, positions;  // [step tokens]
  std::vector<models::SeqTokens> seqs;
  std::vector<Request*> members;  // the request of each of seqs
  std::vector<float> logits;      // [rows][n_vocab]
  std::vector<std::pair<Request*, int64_t>> sampling;  // who samples in this step, from which row

  void run();
  void retire_cancelled();
  void admit();
  void plan();
  void step();
  void finish(Request* r);
  void deliver();
};

BatchGenerator::BatchGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<BatchGenerator>> BatchGenerator::create(std::shared_ptr<Model> model,
                                                               const BatchOptions& options) {
  if (!model) return make_error("batch generator: no model");
  if (options.n_slots < 1 || options.n_slots > kMaxSlots)
    return make_error("batch generator: %d slots (1 to %d)", options.n_slots, kMaxSlots);
  auto impl = std::make_unique<Impl>();
  impl->model = model->impl_.get();
  impl->owner = std::move(model);
  impl->options = options;
  impl->options.n_batch = std::max(options.n_batch, options.n_slots);
  impl->n_vocab = impl->model->model->hparams().n_vocab;
  impl->slots.resize(static_cast<size_t>(options.n_slots));
  for (Impl::Slot& s : impl->slots) {
    auto cache = impl->model->new_cache(options.n_ctx, options.kv_f32);
    if (!cache) return cache.error().with_context("batch generator");
    s.cache = std::move(*cache);
  }
  impl->options.n_ctx = impl->slots[0].cache.n_ctx();
  Impl* im = impl.get();
  impl->worker = std::thread([im] { im->run(); });
  return std::unique_ptr<BatchGenerator>(new BatchGenerator(std::move(impl)));
}

BatchGenerator::~BatchGenerator() {
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->work_cv.notify_all();
  impl_->worker.join();
}

int BatchGenerator::n_slots() const { return impl_->options.n_slots; }
int BatchGenerator::n_ctx() const { return impl_->options.n_ctx; }

int BatchGenerator::running() const {
  std::lock_guard lk(impl_->mu);
  return static_cast<int>(impl_->running.size());
}

int BatchGenerator::waiting() const {
  std::lock_guard lk(impl_->mu);
  return static_cast<int>(impl_->waiting.size());
}

Result<GenerateStats> BatchGenerator::generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                               const std::function<bool(const GeneratedPiece&)>& on_piece) {
  Impl& im = *impl_;
  if (!im.model->tokenizer) return Error{im.model->info.tokenizer_error};
  MINNOW_CHECK_OK(check_generation(prompt, options, im.options.n_ctx, im.n_vocab));
  Impl::Request r(prompt, options);
  std::unique_lock lk(im.mu);
  im.waiting.push_back(&r);
  im.work_cv.notify_one();
  std::optional<int> stopped_at;  // tokens generated when on_piece said stop
  for (;;) {
    r.cv.wait(lk, [&] { return !r.pieces.empty() || r.finished; });
    if (r.pieces.empty()) break;  // finished, and everything handed on
    std::deque<Piece> got;
    got.swap(r.pieces);
    lk.unlock();
    try {
      for (const Piece& p : got) {
        if (stopped_at) break;  // nothing after a stop
        if (!on_piece(GeneratedPiece{p.text, p.tokens}) && !p.last) {
          stopped_at = p.generated;
          r.cancelled = true;
        }
      }
    } catch (...) {
      // The worker still has the request: end it before it goes with this stack frame.
      r.cancelled = true;
      lk.lock();
      r.cv.wait(lk, [&] { return r.finished; });
      throw;
    }
    lk.lock();
  }
  if (!r.error.ok()) return r.error.error();
  GenerateStats stats = r.stats;
  if (stopped_at) {  // as Session::generate ends when on_piece says stop
    stats.generated_tokens = *stopped_at;
    stats.done_reason = "stop";
  }
  return stats;
}

void BatchGenerator::Impl::run() {
  std::unique_lock lk(mu);
  for (;;) {
    work_cv.wait(lk, [&] { return stopping || !waiting.empty() || !running.empty(); });
    if (stopping) return;
    retire_cancelled();
    admit();
    if (running.empty()) continue;
    plan();
    lk.unlock();
    step();
    lk.lock();
    deliver();
  }
}

void BatchGenerator::Impl::retire_cancelled() {
  for (size_t i = 0; i < running.size();) {
    Request* r = running[i];
    if (!r->cancelled) {
      ++i;
      continue;
    }
    if (r->gen) r->gen->cancel();
    finish(r);  // removes it from running
  }
}

void BatchGenerator::Impl::admit() {
  while (!waiting.empty()) {
    Request* r = waiting.front();
    // The free slot whose kept tokens give the longest reusable prefix, but for prefixes too
    // short to be worth the rest of a slot's tokens: every prompt shares its BOS (and a chat
    // template's first tokens) with every slot, and an empty slot is better than one whose
    // cached system prompt that would overwrite. A kept token saves its evaluation now; a
    // dropped one costs only if a later prompt would have reused it, which we count as a
    // quarter. Among equals, the least recently used goes.
    int best = -1, best_keep = 0;
    int64_t best_score = 0;
    for (int i = 0; i < static_cast<int>(slots.size()); ++i) {
      const Slot& s = slots[static_cast<size_t>(i)];
      if (s.request != nullptr) continue;
      const int keep = reusable_prefix(s.context, r->prompt, s.cache);
      const int64_t score = 4 * int64_t{keep} - (static_cast<int64_t>(s.context.size()) - keep);
      if (best < 0 || score > best_score ||
          (score == best_score && s.last_used < slots[static_cast<size_t>(best)].last_used)) {
        best = i;
        best_keep = keep;
        best_score = score;
      }
    }
    if (best < 0) return;  // every slot is busy: it waits
    waiting.pop_front();
    Slot& s = slots[static_cast<size_t>(best)];
    s.request = r;
    s.cache.set_n_past(best_keep);
    s.context.resize(static_cast<size_t>(best_keep));
    r->slot = best;
    r->prompt_done = best_keep;
    r->joined = Clock::now();
    r->stats.prompt_tokens = static_cast<int>(r->prompt.size());
    r->stats.prompt_cached_tokens = best_keep;
    running.push_back(r);
  }
}

void BatchGenerator::Impl::plan() {
  tokens.clear();
  positions.clear();
  seqs.clear();
  members.clear();
  auto add = [&](Request* r, std::span<const int32_t> t, models::LogitRows rows) {
    Slot& s = slots[static_cast<size_t>(r->slot)];
    for (size_t i = 0; i < t.size(); ++i) {
      tokens.push_back(t[i]);
      positions.push_back(s.cache.n_past() + static_cast<int32_t>(i));
    }
    seqs.push_back({&s.cache, static_cast<int64_t>(t.size()), rows});
    members.push_back(r);
  };
  // Every decoding sequence's next token first (n_batch >= n_slots: they always fit), then
  // prompt chunks in the order their calls joined, as far as the step's budget goes.
  int64_t budget = options.n_batch;
  for (Request* r : running) {
    if (!r->gen) continue;
    add(r, std::span<const int32_t>(&r->next, 1), models::LogitRows::kLast);
    --budget;
  }
  for (Request* r : running) {
    if (r->gen || budget <= 0) continue;
    const int64_t rest = static_cast<int64_t>(r->prompt.size()) - r->prompt_done;
    const int64_t take = std::min(rest, budget);
    add(r, r->prompt.subspan(static_cast<size_t>(r->prompt_done), static_cast<size_t>(take)),
        take == rest ? models::LogitRows::kLast : models::LogitRows::kNone);
    budget -= take;
  }
}

void BatchGenerator::Impl::step() {
  int64_t rows = 0;
  for (const models::SeqTokens& s : seqs) rows += s.logits == models::LogitRows::kLast;
  logits.resize(static_cast<size_t>(rows * n_vocab));
  const nn::Compute c{*model->kt, *model->pool, nullptr, &scratch};
  const Status st = model->model->forward_batch(c, tokens.data(), positions.data(), seqs, logits.data());
  if (!st.ok()) {
    for (Request* r : members) {
      r->error = st;
      Slot& s = slots[static_cast<size_t>(r->slot)];
      s.cache.set_n_past(0);  // what it holds is unknown now
      s.context.clear();
    }
    return;
  }
  sampling.clear();
  int64_t row = 0, t = 0;
  for (size_t k = 0; k < members.size(); ++k) {
    Request* r = members[k];
    Slot& s = slots[static_cast<size_t>(r->slot)];
    const int64_t n = seqs[k].n_tokens;
    s.context.insert(s.context.end(), tokens.begin() + t, tokens.begin() + t + n);
    t += n;
    if (seqs[k].logits == models::LogitRows::kNone) {
      r->prompt_done += n;
      continue;
    }
    const int64_t r_row = row++;
    if (!r->gen) {
      r->prompt_done += n;
      // The prompt is in: generation starts from its last row.
      r->stats.prompt_seconds = std::chrono::duration<double>(Clock::now() - r->joined).count();
      r->gen.emplace(*model->tokenizer, r->options, n_vocab, r->prompt,
                     r->options.grammar.empty() ? nullptr : model->vocab_trie(),
                     [r](const GeneratedPiece& p, bool last) {
                       const int generated = r->gen ? r->gen->stats().generated_tokens : 0;
                       r->outbox.push_back({std::string(p.text), {p.tokens.begin(), p.tokens.end()}, generated, last});
                       return !r->cancelled;
                     });
      if (r->gen->done()) continue;  // num_predict 0
    }
    sampling.emplace_back(r, r_row);
  }
  // Each sequence samples on its own state (sampler, filters, outbox): in parallel, the pool
  // being idle between forward passes otherwise (a full-vocabulary sort is ~1 ms for 150k ids).
  model->pool->parallel_for(static_cast<int64_t>(sampling.size()), 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const auto [r, r_row] = sampling[static_cast<size_t>(k)];
      const KvCache& cache = slots[static_cast<size_t>(r->slot)].cache;
      const std::span<const float> lg(logits.data() + r_row * n_vocab, static_cast<size_t>(n_vocab));
      const std::optional<int32_t> next = r->gen->step(lg, cache.n_ctx() - cache.n_past());
      if (next) r->next = *next;
    }
  });
}

void BatchGenerator::Impl::finish(Request* r) {
  if (r->gen) {
    const GenerateStats& g = r->gen->stats();
    r->stats.generated_tokens = g.generated_tokens;
    r->stats.generate_seconds = g.generate_seconds;
    r->stats.done_reason = g.done_reason;
  } else {
    r->stats.done_reason = "stop";  // ended before its prompt was in
  }
  r->finished = true;
  Slot& s = slots[static_cast<size_t>(r->slot)];
  s.request = nullptr;
  s.last_used = ++clock;
  running.erase(std::find(running.begin(), running.end(), r));
  r->cv.notify_one();
}

void BatchGenerator::Impl::deliver() {
  for (Request* r : members) {
    if (!r->outbox.empty()) {
      r->pieces.insert(r->pieces.end(), std::make_move_iterator(r->outbox.begin()),
                       std::make_move_iterator(r->outbox.end()));
      r->outbox.clear();
      r->cv.notify_one();
    }
    if (!r->error.ok() || (r->gen && r->gen->done())) finish(r);
  }
}

}  // namespace minnow

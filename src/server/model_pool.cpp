#include "server/model_pool.h"

#include <algorithm>
#include <cmath>

namespace minnow::server {

namespace {

using Clock = std::chrono::system_clock;

Clock::time_point expiry(double keep_alive_s) {
  if (keep_alive_s < 0) return Clock::time_point::max();
  return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(std::min(keep_alive_s, 1e9) * 1000));
}

}  // namespace

int LoadedModel::context_length() const {
  std::lock_guard lk(gen_mu);
  return generator ? generator->n_ctx() : 0;
}

GeneratorUse& GeneratorUse::operator=(GeneratorUse&& o) noexcept {
  if (this != &o) {
    release();
    m_ = std::move(o.m_);
    g_ = std::move(o.g_);
  }
  return *this;
}

void GeneratorUse::release() {
  if (!g_) return;
  {
    std::lock_guard lk(m_->gen_mu);
    --m_->generator_users;
    g_.reset();
  }
  m_->gen_cv.notify_all();
  m_.reset();
}

Result<GeneratorUse> use_generator(const std::shared_ptr<LoadedModel>& m, int n_ctx) {
  std::unique_lock lk(m->gen_mu);
  // Requests waiting for a context other than the generator's, or for the session: a request for the
  // current context goes behind them rather than keep the switch from ever happening.
  auto others_waiting = [&] {
    int n = m->session_waiters;
    for (const auto& [ctx, count] : m->waiting_ctx) n += ctx != m->generator_ctx ? count : 0;
    return n;
  };
  bool waited = false;      // counted in waiting_ctx
  bool for_switch = false;  // waited while the generator had another context: goes with its switch
  for (;;) {
    const bool fits = m->generator && m->generator_ctx == n_ctx;
    if (!fits) for_switch = true;
    // While the session is in use (embeddings) generation waits; see others_waiting above.
    if (fits && !m->in_session && (for_switch || others_waiting() == 0)) break;
    if (!fits && !m->in_session && m->generator_users == 0) {
      m->generator.reset();  // its KV caches go before the new ones are made
      auto g = BatchGenerator::create(m->model, BatchOptions{.n_slots = m->n_parallel, .n_ctx = n_ctx});
      if (!g) {
        m->generator_ctx = -1;
        if (waited && --m->waiting_ctx[n_ctx] == 0) m->waiting_ctx.erase(n_ctx);
        m->gen_cv.notify_all();
        return g.error();
      }
      m->generator = std::move(*g);
      m->generator_ctx = n_ctx;
      break;
    }
    if (!waited) {
      waited = true;
      ++m->waiting_ctx[n_ctx];
    }
    m->gen_cv.wait(lk);
  }
  if (waited) {
    if (--m->waiting_ctx[n_ctx] == 0) m->waiting_ctx.erase(n_ctx);
    m->gen_cv.notify_all();  // the requests this one kept waiting, and those of its context
  }
  ++m->generator_users;
  return GeneratorUse(m, m->generator);
}

bool renders_tools(const Model& model) {
  if (model.info().embedding_only) return false;
  const std::vector<ChatMessage> messages = {ChatMessage("user", "x")};
  ChatFormatOptions with;
  with.tools_json = R"([{"type": "function", "function": {"name": "probe", "parameters": {"type": "object"}}}])";
  auto a = model.render_chat(messages, with);
  auto b = model.render_chat(messages, ChatFormatOptions{});
  return a.ok() && b.ok() && *a != *b;
}

Status with_session(const std::shared_ptr<LoadedModel>& m, int n_ctx, const std::function<void(Session&)>& fn) {
  std::unique_lock lk(m->gen_mu);
  ++m->session_waiters;  // generation requests arriving now wait behind this one
  m->gen_cv.wait(lk, [&] { return m->generator_users == 0 && !m->in_session; });
  --m->session_waiters;
  m->in_session = true;
  lk.unlock();
  Status st;
  if (!m->session || m->session_ctx != n_ctx) {
    m->session.reset();
    auto s = m->model->new_session(SessionOptions{.n_ctx = n_ctx});
    if (s.ok()) {
      m->session = std::move(*s);
      m->session_ctx = n_ctx;
    } else {
      st = s.error();
    }
  }
  if (st.ok()) fn(*m->session);
  lk.lock();
  m->in_session = false;
  m->gen_cv.notify_all();
  return st;
}

ModelPool::ModelPool(Store store, int n_threads, double keep_alive_s, int n_parallel)
    : store_(std::move(store)), n_threads_(n_threads), keep_alive_s_(keep_alive_s), n_parallel_(n_parallel) {}

ModelPool::~ModelPool() = default;

Result<ModelPool::Acquired> ModelPool::acquire(const std::string& name, bool* not_found) {
  *not_found = false;
  auto found = store_.find(name);
  if (!found) {
    *not_found = true;
    return make_error("model '%s' not found (`minnow pull` or `minnow create` adds it)", name.c_str());
  }
  const std::string key = found->name;
  std::unique_lock lk(mu_);
  // Another request may be loading it: wait for that rather than load it twice.
  loaded_cv_.wait(lk, [&] { return std::find(loading_.begin(), loading_.end(), key) == loading_.end(); });
  for (Entry& e : entries_) {
    if (e.model->name == key && e.model->defaults.digest == found->digest) {
      ++e.in_use;
      e.unload_when_idle = false;
      return Acquired{e.model, false, 0};
    }
  }
  loading_.push_back(key);
  lk.unlock();
  const auto t0 = std::chrono::steady_clock::now();
  LoadOptions lo;
  lo.n_threads = n_threads_;
  lo.chat_template = found->chat_template;
  auto model = Model::load(found->model_path, lo);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  lk.lock();
  loading_.erase(std::find(loading_.begin(), loading_.end(), key));
  loaded_cv_.notify_all();
  if (!model) return model.error().with_context(key);
  auto m = std::make_shared<LoadedModel>();
  m->name = key;
  m->stored = true;
  m->defaults = std::move(*found);
  m->model = std::move(*model);
  m->loaded_at = Clock::now();
  m->takes_tools = renders_tools(*m->model);
  m->n_parallel = n_parallel_;
  // A model replaced in the store under the same name (a new digest) is dropped when idle.
  for (Entry& e : entries_)
    if (e.model->name == key) e.unload_when_idle = true;
  entries_.push_back(Entry{m, expiry(keep_alive_s_), 1, false});
  lk.unlock();
  reap();
  return Acquired{m, true, load_s};
}

void ModelPool::release(const std::shared_ptr<LoadedModel>& m, double keep_alive_s) {
  {
    std::lock_guard lk(mu_);
    for (Entry& e : entries_) {
      if (e.model != m) continue;
      e.in_use = std::max(0, e.in_use - 1);
      const double k = std::isnan(keep_alive_s) ? keep_alive_s_ : keep_alive_s;
      e.expires_at = expiry(k);
      if (k == 0) e.unload_when_idle = true;
    }
  }
  reap();
}

bool ModelPool::unload(const std::string& name) {
  bool any = false;
  {
    std::lock_guard lk(mu_);
    auto found = store_.find(name);
    const std::string key = found ? found->name : name;
    for (Entry& e : entries_) {
      if (e.model->name != key) continue;
      e.unload_when_idle = true;
      any = true;
    }
  }
  reap();
  return any;
}

void ModelPool::reap() {
  std::vector<std::shared_ptr<LoadedModel>> dropped;  // freed outside the lock
  {
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    auto it = std::remove_if(entries_.begin(), entries_.end(), [&](Entry& e) {
      const bool go = e.in_use == 0 && (e.unload_when_idle || e.expires_at <= now);
      if (go) dropped.push_back(e.model);
      return go;
    });
    entries_.erase(it, entries_.end());
  }
}

std::vector<LoadedInfo> ModelPool::loaded() const {
  std::lock_guard lk(mu_);
  std::vector<LoadedInfo> out;
  for (const Entry& e : entries_) out.push_back({e.model->name, e.model, e.expires_at, e.in_use});
  return out;
}

}  // namespace minnow::server

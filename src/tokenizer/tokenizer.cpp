// Tokenizer: loads the vocabulary, picks the model for tokenizer.ggml.model, splits special
// tokens out of the text before the model sees it, and turns ids back into bytes.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "gguf/gguf.h"
#include "tokenizer/bpe.h"
#include "tokenizer/model.h"
#include "tokenizer/spm.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wpm.h"

namespace minnow {
namespace {

// C's isspace in the "C" locale, without its undefined behaviour on negative chars.
bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

// Rules out special tokens that cannot occur in a text, from one pass over its 4-byte windows
// (hashed into a bitset about 4x the text's size), so that a long special list costs one
// search per token that may occur rather than one per token: DeepSeek's 2,400 user-defined
// tokens made partition 2/3 of encoding time (1.7 MB/s). Never rules out a token that occurs.
class WindowFilter {
 public:
  explicit WindowFilter(std::string_view text) {
    while (bits_ < 22 && (size_t{1} << bits_) < 4 * text.size()) ++bits_;
    set_.assign((size_t{1} << bits_) / 64 + 1, 0);
    for (size_t i = 0; i + 4 <= text.size(); ++i) {
      const uint32_t h = hash(text.data() + i);
      set_[h / 64] |= uint64_t{1} << (h % 64);
    }
  }
  bool may_contain(std::string_view token) const {
    if (token.size() < 4) return true;
    return test(token.data()) && test(token.data() + token.size() - 4);
  }

 private:
  uint32_t hash(const char* p) const {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return (w * 0x9E3779B1u) >> (32 - bits_);
  }
  bool test(const char* p) const {
    const uint32_t h = hash(p);
    return (set_[h / 64] >> (h % 64)) & 1;
  }
  int bits_ = 10;
  std::vector<uint64_t> set_;
};

}  // namespace

struct Tokenizer::Impl {
  tok::Vocab vocab;
  std::unique_ptr<tok::Model> model;  // refers to vocab

  // A run of the input: a special token, or ordinary text [off, off + len).
  struct Fragment {
    int32_t token;  // -1 for text
    size_t off, len;
  };

  // llama.cpp's order: each special token, longest first, splits every text fragment at all
  // its occurrences. User-defined tokens always split; control and unknown ones only when
  // parsing specials. A token marked rstrip also takes the whitespace after it.
  std::vector<Fragment> partition(std::string_view text, bool parse_special,
                                  const std::vector<std::pair<size_t, size_t>>& protect) const {
    auto is_protected = [&](size_t begin, size_t end) {
      for (const auto& [pb, pe] : protect) {
        if (begin < pe && pb < end) return true;
      }
      return false;
    };
    std::vector<Fragment> frags{{-1, 0, text.size()}};
    std::vector<Fragment> next;
    const WindowFilter filter(text);
    for (int32_t id : vocab.specials) {
      if (!parse_special && vocab.type(id) != TokenType::kUserDefined) continue;
      const std::string_view sp = vocab.tokens[static_cast<size_t>(id)];
      if (!filter.may_contain(sp)) continue;
      next.clear();
      bool split = false;
      for (const Fragment& f : frags) {
        if (f.token >= 0 || f.len < sp.size()) {
          next.push_back(f);
          continue;
        }
        const std::string_view raw = text.substr(f.off, f.len);
        size_t pos = 0;
        for (size_t hit, from = 0; (hit = raw.find(sp, from)) != std::string_view::npos;) {
          if (is_protected(f.off + hit, f.off + hit + sp.size())) {
            from = hit + 1;
            continue;
          }
          if (hit > pos) next.push_back({-1, f.off + pos, hit - pos});
          next.push_back({id, 0, 0});
          split = true;
          pos = hit + sp.size();
          if (vocab.rstrip[static_cast<size_t>(id)]) {
            while (pos < raw.size() && is_space(raw[pos])) ++pos;
          }
          from = pos;
        }
        if (pos < raw.size()) next.push_back({-1, f.off + pos, raw.size() - pos});
      }
      if (split) frags.swap(next);
    }
    return frags;
  }

  void append_piece(int32_t id, bool render_special, std::string& out) const {
    switch (vocab.type(id)) {
      case TokenType::kControl:
        if (render_special) out += vocab.tokens[static_cast<size_t>(id)];
        return;
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        out += vocab.tokens[static_cast<size_t>(id)];
        return;
      case TokenType::kUnused:
        return;
      case TokenType::kUndefined:  // also what out-of-range ids read as
      case TokenType::kNormal:
      case TokenType::kByte:
        if (id >= 0 && id < vocab.n_vocab()) model->append_piece(id, out);
        return;
    }
  }
};

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  auto spec = tok::read_spec(file);
  if (!spec.ok()) return spec.error();
  return from_spec(std::move(spec).value());
}

Result<Tokenizer> Tokenizer::from_spec(VocabSpec spec) {
  // SentencePiece ("llama"), WordPiece ("bert"), byte-level BPE ("gpt2" with its pre-tokenizers).
  const bool wpm = spec.model == "bert";
  const bool bpe = spec.model == "gpt2";
  if (spec.model != "llama" && !wpm && !bpe) {
    return make_error("tokenizer: unsupported tokenizer model '%s'", spec.model.substr(0, 64).c_str());
  }
  if (wpm) tok::apply_wpm_defaults(spec);
  if (bpe) tok::apply_bpe_defaults(spec);
  // The vocabulary takes the rest of spec; BPE's pre-tokenizer name and merges stay here.
  const std::string pre = spec.pre;
  const std::optional<std::vector<std::string>> merges = std::move(spec.merges);
  auto vocab = tok::build_vocab(std::move(spec));
  if (!vocab.ok()) return vocab.error();
  // The model keeps a reference to the vocabulary, so it lives in place on the heap.
  auto impl = std::unique_ptr<Impl>(new Impl{std::move(vocab).value(), nullptr});
  if (wpm) {
    impl->model = std::make_unique<tok::WpmModel>(impl->vocab);
  } else if (bpe) {
    auto model = tok::BpeModel::create(impl->vocab, pre, merges ? &*merges : nullptr);
    if (!model.ok()) return model.error();
    impl->model = std::move(model).value();
  } else {
    impl->model = std::make_unique<tok::SpmModel>(impl->vocab);
  }
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  return encode(text, add_bos, parse_special, {});
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special,
                                       const std::vector<std::pair<size_t, size_t>>& protected_spans) const {
  const tok::Vocab& v = impl_->vocab;
  std::vector<int32_t> out;
  if (add_bos && v.add_bos && v.bos >= 0) out.push_back(v.bos);
  if (!text.empty()) {  // "" gives no fragment at all, so no dummy-prefix space either
    bool at_start = true;
    for (const Impl::Fragment& f : impl_->partition(text, parse_special, protected_spans)) {
      if (f.token >= 0) {
        out.push_back(f.token);
        at_start = true;
      } else {
        impl_->model->encode(text.substr(f.off, f.len), at_start, out);
        at_start = false;
      }
    }
  }
  if (add_bos && v.add_eos && v.eos >= 0) out.push_back(v.eos);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  std::string out;
  impl_->append_piece(id, render_special, out);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, std::vector<size_t>* ends) const {
  std::string out;
  bool strip = impl_->model->strips_leading_space();
  if (ends) ends->clear();
  for (int32_t id : ids) {
    if (id >= 0 && id < n_vocab()) {
      const size_t before = out.size();
      impl_->append_piece(id, false, out);
      const TokenType t = impl_->vocab.type(id);
      if (strip && t != TokenType::kControl) {
        if (t == TokenType::kNormal && out.size() > before && out[before] == ' ') out.erase(before, 1);
        strip = false;
      }
    }
    if (ends) ends->push_back(out.size());
  }
  return out;
}

int32_t Tokenizer::n_vocab() const {
  return impl_->vocab.n_vocab();
}
int32_t Tokenizer::bos_id() const {
  return impl_->vocab.bos;
}
int32_t Tokenizer::eos_id() const {
  return impl_->vocab.eos;
}
int32_t Tokenizer::eot_id() const {
  return impl_->vocab.eot;
}
bool Tokenizer::add_bos() const {
  return impl_->vocab.add_bos;
}

bool Tokenizer::add_eos() const {
  return impl_->vocab.add_eos;
}
TokenType Tokenizer::token_type(int32_t id) const {
  return impl_->vocab.type(id);
}
std::string_view Tokenizer::model() const {
  return impl_->vocab.model;
}

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->vocab.eog.begin(), impl_->vocab.eog.end(), id);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return {};
  return impl_->vocab.tokens[static_cast<size_t>(id)];
}

}  // namespace minnow

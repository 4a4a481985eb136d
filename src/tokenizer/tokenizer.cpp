// Tokenizer: loads the vocabulary, picks the model for tokenizer.ggml.model, splits special
// tokens out of the text before the model sees it, and turns ids back into bytes.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <utility>

#include "gguf/gguf.h"
#include "tokenizer/model.h"
#include "tokenizer/spm.h"
#include "tokenizer/vocab.h"

namespace minnow {
namespace {

// C's isspace in the "C" locale, without its undefined behaviour on negative chars.
bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

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
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const {
    std::vector<Fragment> frags{{-1, 0, text.size()}};
    std::vector<Fragment> next;
    for (int32_t id : vocab.specials) {
      if (!parse_special && vocab.type(id) != TokenType::kUserDefined) continue;
      const std::string_view sp = vocab.tokens[static_cast<size_t>(id)];
      next.clear();
      bool split = false;
      for (const Fragment& f : frags) {
        if (f.token >= 0 || f.len < sp.size()) {
          next.push_back(f);
          continue;
        }
        const std::string_view raw = text.substr(f.off, f.len);
        size_t pos = 0;
        for (size_t hit; (hit = raw.find(sp, pos)) != std::string_view::npos;) {
          if (hit > pos) next.push_back({-1, f.off + pos, hit - pos});
          next.push_back({id, 0, 0});
          split = true;
          pos = hit + sp.size();
          if (vocab.rstrip[static_cast<size_t>(id)]) {
            while (pos < raw.size() && is_space(raw[pos])) ++pos;
          }
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
  // One model so far; the BPE family ("gpt2" and its pre-tokenizers) joins here.
  if (spec.model != "llama") {
    return make_error("tokenizer: unsupported tokenizer model '%s'", spec.model.substr(0, 64).c_str());
  }
  auto vocab = tok::build_vocab(std::move(spec));
  if (!vocab.ok()) return vocab.error();
  // The model keeps a reference to the vocabulary, so it lives in place on the heap.
  auto impl = std::unique_ptr<Impl>(new Impl{std::move(vocab).value(), nullptr});
  impl->model = std::make_unique<tok::SpmModel>(impl->vocab);
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  const tok::Vocab& v = impl_->vocab;
  std::vector<int32_t> out;
  if (add_bos && v.add_bos && v.bos >= 0) out.push_back(v.bos);
  if (!text.empty()) {  // "" gives no fragment at all, so no dummy-prefix space either
    bool at_start = true;
    for (const Impl::Fragment& f : impl_->partition(text, parse_special)) {
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

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool strip = impl_->model->strips_leading_space();
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    const size_t before = out.size();
    impl_->append_piece(id, false, out);
    const TokenType t = impl_->vocab.type(id);
    if (strip && t != TokenType::kControl) {
      if (t == TokenType::kNormal && out.size() > before && out[before] == ' ') out.erase(before, 1);
      strip = false;
    }
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

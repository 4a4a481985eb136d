// Implements minnow::Vocab (include/minnow/vocab.h) over the internal tokenizer.
#include "minnow/vocab.h"

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace minnow {

struct Vocab::Impl {
  explicit Impl(Tokenizer t) : tok(std::move(t)) {}
  Tokenizer tok;
};

Vocab::Vocab(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vocab::~Vocab() = default;

Result<std::unique_ptr<Vocab>> Vocab::load(const std::string& path) {
  auto file = gguf::File::open(path);
  if (!file) return file.error();
  auto tok = Tokenizer::from_gguf(*file);  // copies what it needs; the mapping can go
  if (!tok) return tok.error().with_context(path);
  return std::unique_ptr<Vocab>(new Vocab(std::make_unique<Impl>(std::move(*tok))));
}

std::vector<int32_t> Vocab::encode(std::string_view text, bool add_special, bool parse_special) const {
  return impl_->tok.encode(text, add_special, parse_special);
}

std::string Vocab::decode(const std::vector<int32_t>& ids) const { return impl_->tok.decode(ids); }
int32_t Vocab::n_vocab() const { return impl_->tok.n_vocab(); }
std::string Vocab::model() const { return std::string(impl_->tok.model()); }

}  // namespace minnow

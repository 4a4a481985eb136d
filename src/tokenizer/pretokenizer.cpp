// Pre-tokenizer regexes per tokenizer.ggml.pre, compiled once with PCRE2 (UTF + Unicode
// properties, JIT where the platform has it) and matched with per-thread scratch. The regex
// lists follow each family's Hugging Face tokenizer.json (as llama.cpp's llama-vocab.cpp lists them).
#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <memory>
#include <string>

namespace minnow::tok {
namespace {

// GPT-2's ByteLevel regex. Its final "\s+" catches a lone whitespace character before a
// non-space, which "\s+(?!\S)" cannot match.
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Llama 3 (tiktoken cl100k style): case-insensitive contractions, digits in groups of up to 3,
// a leading non-letter glued to a word, newlines kept with the punctuation before them.
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: Llama 3's regex with single digits.
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM's cased-letter class, escaped from its tokenizer.json (the literal characters
// include canonical singletons such as U+1F7D and U+212A that editors silently normalize).
constexpr const char* kDeepseekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C})"
    R"(\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5})"
    R"(\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B})"
    R"(\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45})"
    R"(\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4})"
    R"(\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB})"
    R"(\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115})"
    R"(\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139})"
    R"(\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB})"
    R"(\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
// HF's "\s+$" on each piece. Written so that only the start of a whitespace run can begin a
// match: plain "\s+$" retries inside a long run that is not at the end, quadratic in its length.
constexpr const char* kTrailingSpace = R"((?<!\s)\s+$)";
// CJK ideographs, U+0800..U+4E00 (most non-Latin scripts), Hangul.
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

constexpr const char* kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Mistral's Tekken and GPT-4o (o200k): words split at case changes.
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kSeedCoder =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBailing =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
// BLOOM-style: a word is anything up to whitespace or sentence punctuation.
constexpr const char* kBloom = R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)";

struct Family {
  std::vector<std::string_view> names;
  std::vector<const char*> regexes;  // applied in order
  PreTraits traits;
};

// Names as llama.cpp spells them (its convert script writes them), so any GGUF it tokenizes
// we tokenize alike. Families whose HF config needs more than regexes (chameleon, kimi-k2,
// afmoe, superbpe) are left out and reported as unknown.
const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      // llama.cpp's fallback for files without the key: punctuation runs, then GPT-2, then numbers
      // in runs and groups of three.
      Family{{"", "default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}, {}},
      Family{{"gpt-2", "gpt-neox", "mpt", "olmo", "phi-2", "jais", "jina-es", "jina-de", "jina-v2-es",
              "jina-v2-de", "jina-v1-en", "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0", "mellum",
              "exaone4", "trillion", "granite-docling"},
             {kGpt2},
             {}},
      Family{{"llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"},
             {kLlama3},
             {.ignore_merges = true, .add_bos = true}},
      Family{{"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {kLlama3}, {}},
      Family{
          {"qwen2", "deepseek-r1-qwen", "kormo", "megrez", "stablelm2", "hunyuan", "grok-2"}, {kQwen2}, {}},
      Family{{"deepseek-llm"},
             {R"([\r\n])", kDeepseekLetters, kDeepseekPunct, kTrailingSpace, kDeepseekCjk, R"(\p{N}+)"},
             {}},
      Family{{"deepseek-coder"}, {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"}, {}},
      Family{{"deepseek-v3", "hunyuan-dense"},
             {R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)", kDeepseekV3Main},
             {}},
      // Falcon: HF Punctuation (ASCII punctuation counts, hence the symbols), ByteLevel, then
      // digit runs cut into threes.
      Family{{"falcon"}, {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}, {}},
      // HF Digits(individual_digits) before ByteLevel.
      Family{{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
             {R"(\p{N})", kGpt2},
             {}},
      Family{{"tekken"}, {kTekken}, {.ignore_merges = true, .add_bos = true}},
      Family{{"gpt-4o", "llama4", "minimax-m2"}, {kGpt4o}, {}},
      Family{{"seed-coder"}, {kSeedCoder}, {}},
      Family{{"bailingmoe", "bailingmoe2", "llada-moe"}, {kBailing}, {}},
      Family{{"poro-chat", "bloom", "gpt3-finnish"}, {kBloom}, {}},
      Family{{"viking"}, {kBloom, R"(\p{N})"}, {}},
  };
  return kFamilies;
}

const Family* find_family(std::string_view pre) {
  for (const Family& f : families()) {
    for (std::string_view n : f.names) {
      if (n == pre) return &f;
    }
  }
  return nullptr;
}

// Per-thread match state: compiled patterns are shared read-only, match data and the JIT
// stack are not. 1 MiB of JIT stack: these patterns backtrack little, but an input-sized
// frame chain must fail cleanly rather than overflow.
struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;

  MatchScratch() {
    data = pcre2_match_data_create(16, nullptr);
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  bool jit = false;  // pcre2_jit_match skips pcre2_match's per-call checks (8% of DeepSeek's time)
  ~Regex() { pcre2_code_free(code); }

  // Appends the matches of this regex in piece and the gaps between them.
  void split(std::string_view piece, std::vector<std::string_view>& out) const {
    MatchScratch& s = scratch();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
    size_t emitted = 0;  // end of what is already out
    size_t start = 0;    // where the next search begins
    while (s.data && start < piece.size()) {
      const int rc = jit ? pcre2_jit_match(code, subject, piece.size(), start, 0, s.data, s.context)
                         : pcre2_match(code, subject, piece.size(), start, 0, s.data, s.context);
      // No match, or a resource limit: the rest of the piece stays one gap.
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
      const size_t m_begin = ov[0], m_end = ov[1];
      if (m_end <= m_begin) {  // an empty match isolates nothing: step over one character
        start = m_begin + 1;
        while (start < piece.size() && (static_cast<unsigned char>(piece[start]) & 0xC0) == 0x80) ++start;
        continue;
      }
      if (m_begin > emitted) out.push_back(piece.substr(emitted, m_begin - emitted));
      out.push_back(piece.substr(m_begin, m_end - m_begin));
      emitted = start = m_end;
    }
    if (emitted < piece.size()) out.push_back(piece.substr(emitted));
  }
};

PreTraits pre_traits(std::string_view pre) {
  const Family* f = find_family(pre);
  return f ? f->traits : PreTraits{};
}

Result<PreTokenizer> PreTokenizer::create(std::string_view pre) {
  const Family* family = find_family(pre);
  if (!family) {
    return make_error("tokenizer: unknown pre-tokenizer tokenizer.ggml.pre = '%s'",
                      std::string(pre.substr(0, 64)).c_str());
  }
  PreTokenizer p;
  p.traits_ = family->traits;
  for (const char* pattern : family->regexes) {
    // MATCH_INVALID_UTF: arbitrary bytes are legal subjects; invalid sequences match nothing.
    int err = 0;
    PCRE2_SIZE err_off = 0;
    auto re = std::make_unique<Regex>();
    re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
    if (!re->code) {
      std::array<PCRE2_UCHAR, 256> msg{};
      pcre2_get_error_message(err, msg.data(), msg.size());
      return make_error("tokenizer: pre-tokenizer '%s': regex at offset %zu: %s", std::string(pre).c_str(),
                        static_cast<size_t>(err_off), reinterpret_cast<const char*>(msg.data()));
    }
    // Without JIT (some platforms) pcre2_match interprets the same pattern, only slower.
    re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
    p.regexes_.push_back(std::move(re));
  }
  return p;
}

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  if (regexes_.size() == 1) {
    regexes_[0]->split(text, pieces);
    return;
  }
  std::vector<std::string_view> cur{text}, next;
  for (const auto& re : regexes_) {
    next.clear();
    for (std::string_view piece : cur) re->split(piece, next);
    cur.swap(next);
  }
  pieces.insert(pieces.end(), cur.begin(), cur.end());
}

}  // namespace minnow::tok

// `minnow quantize IN.gguf OUT.gguf TYPE [--threads N]`: rewrites a model's weights into TYPE
// (Q4_0 ... Q6_K, F16, BF16, F32), printing each tensor as it is written and the sizes at the end.
#include "minnow/quantize.h"

#include <cstdio>
#include <memory>
#include <optional>

#include "cli/commands.h"

namespace minnow::cli {
namespace {

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string type;
  int threads = 0;
};

std::string size_text(uint64_t bytes) {
  if (bytes < (uint64_t{1} << 20)) return strfmt("%.1f KiB", static_cast<double>(bytes) / 1024.0);
  return strfmt("%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int quantize(const QuantizeArgs& a) {
  const std::optional<QuantType> type = parse_quant_type(a.type);
  if (!type) return fail("unknown type '" + a.type + "': expected one of " + kQuantTypeNames);
  QuantizeOptions options;
  options.n_threads = a.threads;
  int index = 0;
  options.on_tensor = [&index](const QuantizedTensor& t) {
    std::string note;
    if (!t.fallback_from.empty())
      note += " (" + t.fallback_from + " does not fit rows of " + std::to_string(t.shape[0]) + ")";
    if (t.requantized) note += " (requantized)";
    std::printf("[%4d] %-32s %-18s %6s -> %-6s %10s -> %10s%s\n", ++index, t.name.c_str(),
                shape_text(t.shape).c_str(), t.from.c_str(), t.to.c_str(), size_text(t.bytes_in).c_str(),
                size_text(t.bytes_out).c_str(), note.c_str());
    std::fflush(stdout);
  };
  auto r = quantize_gguf(a.in, a.out, *type, options);
  if (!r) return fail(r.error().message);
  std::printf("wrote %s: %s, %zu tensors (%d converted, %d fell back to a type that fits their rows)\n",
              a.out.c_str(), quant_type_name(*type), r->tensors.size(), r->n_converted, r->n_fallback);
  std::printf(
      "tensor data %s -> %s (%.1f%%), file %s -> %s\n", size_text(r->bytes_in).c_str(),
      size_text(r->bytes_out).c_str(),
      r->bytes_in ? 100.0 * static_cast<double>(r->bytes_out) / static_cast<double>(r->bytes_in) : 100.0,
      size_text(r->file_size_in).c_str(), size_text(r->file_size_out).c_str());
  if (r->n_requantized > 0) {
    std::printf(
        "warning: %d tensors were requantized from already quantized types, so their errors add up; "
        "quantize from an F32, F16 or BF16 file when there is one\n",
        r->n_requantized);
  }
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* cmd = app.add_subcommand("quantize", "Rewrite a GGUF model's weights into a quantized type");
  cmd->add_option("in", a->in, "The .gguf file to read")->required();
  cmd->add_option("out", a->out, "The .gguf file to write")->required();
  cmd->add_option("type", a->type, std::string("Target type: ") + kQuantTypeNames)->required();
  cmd->add_option("--threads,-t", a->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([a, exit_code] { *exit_code = quantize(*a); });
}

}  // namespace minnow::cli

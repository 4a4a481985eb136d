// Reading Hugging Face JSON files (tokenizer.json, config.json, safetensors headers) as untrusted
// input: parsing bounded in depth and turned into an Error, and typed member access that never
// throws. nlohmann exceptions never leave these functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace minnow::tok {

using Json = nlohmann::json;

// Real files nest 5 or 6 levels deep. nlohmann parses with an explicit stack, but a cap keeps
// pathological input cheap to reject.
constexpr int kMaxJsonDepth = 128;

// Parses text; errors start with `what` ("tokenizer.json: parse error at line 1, ...").
Result<Json> parse_json(std::string_view text, const char* what);

// obj[key] when obj is an object holding a non-null key, else nullptr.
const Json* member(const Json& obj, const char* key);
const std::string* string_member(const Json& obj, const char* key);
bool bool_member(const Json& obj, const char* key, bool def);

// A JSON integer as int64 (a uint64 above INT64_MAX reads as -1, never in range); nullopt for
// anything else.
std::optional<int64_t> as_int(const Json& v);

// Untrusted text in messages: at most 80 bytes, not cut inside a UTF-8 sequence.
std::string clip(std::string_view s);

}  // namespace minnow::tok

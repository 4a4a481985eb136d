// Log sink: the library never prints; it hands lines to a sink the program installs.
#pragma once

namespace minnow {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
using LogSink = void (*)(LogLevel level, const char* message);

void set_log_sink(LogSink sink);  // nullptr discards (the default)
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace minnow

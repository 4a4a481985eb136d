#include "base/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace minnow {
namespace {
std::atomic<LogSink> g_sink{nullptr};
}

void set_log_sink(LogSink sink) { g_sink.store(sink); }

void log_message(LogLevel level, const char* fmt, ...) {
  LogSink sink = g_sink.load();
  if (!sink) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  sink(level, buf);
}

}  // namespace minnow

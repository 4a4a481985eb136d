// Noticing that the client of a non-streaming request went away. cpp-httplib (0.11) gives a
// handler no view of its connection, and an answer sent in one piece writes nothing until the
// end, so a write never fails to tell. The connection's socket is found by its two ends (the
// request's local and remote address and port), among this process's open sockets, once per
// request; then a peek that does not block tells whether the peer has closed its side.
#pragma once

#include <httplib.h>

#include <chrono>
#include <mutex>

namespace minnow::server {

class ClientWatch {
 public:
  explicit ClientWatch(const httplib::Request& req);
  // Whether the client has closed the connection (checked at most every 20 ms; once gone, stays
  // gone). False when the socket could not be found. Safe from several threads (the choices of
  // one request).
  bool gone();
  bool found() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  std::mutex mu_;
  bool gone_ = false;
  std::chrono::steady_clock::time_point next_check_{};
};

}  // namespace minnow::server

// An httplib::Server that slow clients cannot starve (the admin server's): a liveness probe must
// be answered however many clients trickle bytes or reconnect.
//
// - Each request must arrive whole within `request_deadline_ms` of its first byte (a per-read
//   timeout alone lets a client sending a byte a second hold a worker forever).
// - A fixed pool of `workers` threads serves connections; when a connection arrives and no
//   worker is free, the connection that has been reading its request the longest is cut
//   (slowloris protection), so a complete request waits for at most one such eviction.
// - The listen backlog is raised from httplib 0.11's 5 (SYNs beyond it are dropped and retried
//   by the client only after a second).
//
// Thread-safety: as httplib::Server; handlers run on the pool's threads.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <thread>

namespace klaxon::service {

struct GuardedServerOptions {
  size_t workers = 32;
  int64_t request_deadline_ms = 2000;  // from a request's first byte to its last
  int64_t idle_timeout_ms = 2000;      // waiting for a request (first, or next on keep-alive)
  int64_t write_timeout_ms = 5000;     // one write of a response
  size_t max_requests_per_connection = 100;
  int listen_backlog = 1024;
};

class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(GuardedServerOptions options);

  // After bind_to_port/bind_to_any_port, before listen_after_bind.
  void RaiseBacklog();

  // Connections cut because a worker was needed (tests, metrics).
  size_t evictions() const;

 private:
  bool process_and_close_socket(socket_t sock) override;

  // The pool calls this when a connection is queued and every worker is busy.
  void EvictSlowestReader();

  struct Active {
    socket_t sock;
    std::chrono::steady_clock::time_point reading_since;  // max(): not reading a request
  };

  GuardedServerOptions options_;
  mutable std::mutex mu_;
  std::map<std::thread::id, Active> active_;  // by worker thread
  size_t evictions_ = 0;
};

}  // namespace klaxon::service

#include "service/guarded_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <vector>

namespace klaxon::service {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits up to `timeout_ms` (0: just looks) for `events` on `sock`.
bool PollFor(socket_t sock, short events, int64_t timeout_ms) {
  pollfd p{sock, events, 0};
  const auto until =
      SteadyClock::now() + std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms));
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()).count();
    const int r = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left)));
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

void AddressOf(bool peer, socket_t sock, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  const int r = peer ? getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len)
                     : getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// A connection's stream whose reads all end at the current request's deadline, however the
// bytes trickle in.
class DeadlineStream : public httplib::Stream {
 public:
  DeadlineStream(socket_t sock, int64_t write_timeout_ms)
      : sock_(sock), write_timeout_ms_(write_timeout_ms) {}

  // Waits for the first byte of the next request.
  bool WaitForRequest(int64_t timeout_ms) {
    return pos_ < len_ || PollFor(sock_, POLLIN, timeout_ms);
  }
  void StartRequest(SteadyClock::time_point deadline) { deadline_ = deadline; }

  bool is_readable() const override { return pos_ < len_ || PollFor(sock_, POLLIN, LeftMs()); }
  bool is_writable() const override { return PollFor(sock_, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      if (!PollFor(sock_, POLLIN, LeftMs())) return -1;
      const ssize_t n = ::recv(sock_, buffer_, sizeof(buffer_), 0);
      if (n <= 0) return n;
      pos_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, len_ - pos_);
    std::memcpy(ptr, buffer_ + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(sock_, ptr, size, MSG_NOSIGNAL);
  }
  using httplib::Stream::write;

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(true, sock_, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    AddressOf(false, sock_, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  int64_t LeftMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - SteadyClock::now())
        .count();
  }

  socket_t sock_;
  int64_t write_timeout_ms_;
  SteadyClock::time_point deadline_ = SteadyClock::now();
  char buffer_[4096];
  size_t pos_ = 0;
  size_t len_ = 0;
};

// A fixed set of workers; when a connection is queued and none is idle, `on_full` makes room.
class EvictingPool : public httplib::TaskQueue {
 public:
  EvictingPool(size_t workers, std::function<void()> on_full) : on_full_(std::move(on_full)) {
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
  }
  void enqueue(std::function<void()> fn) override {
    bool full = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(fn));
      full = jobs_.size() > idle_;
    }
    cv_.notify_one();
    if (full) on_full_();
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutdown_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++idle_;
        cv_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        --idle_;
        if (jobs_.empty()) return;  // shut down, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  std::function<void()> on_full_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

constexpr SteadyClock::time_point kNotReading = SteadyClock::time_point::max();

}  // namespace

GuardedHttpServer::GuardedHttpServer(GuardedServerOptions options) : options_(options) {
  new_task_queue = [this] {
    return new EvictingPool(options_.workers, [this] { EvictSlowestReader(); });
  };
  // The request is read: its handler runs and the connection is no longer a candidate.
  set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = active_.find(std::this_thread::get_id()); it != active_.end()) {
      it->second.reading_since = kNotReading;
    }
    return HandlerResponse::Unhandled;
  });
}

void GuardedHttpServer::RaiseBacklog() {
  // Linux applies a second listen() to a listening socket as a new backlog.
  if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, options_.listen_backlog);
}

size_t GuardedHttpServer::evictions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evictions_;
}

void GuardedHttpServer::EvictSlowestReader() {
  std::lock_guard<std::mutex> lock(mu_);
  auto oldest = active_.end();
  for (auto it = active_.begin(); it != active_.end(); ++it) {
    if (it->second.reading_since == kNotReading) continue;
    if (oldest == active_.end() || it->second.reading_since < oldest->second.reading_since) {
      oldest = it;
    }
  }
  if (oldest == active_.end()) return;
  // Its worker's poll() returns at once; the worker closes the socket and takes the next one.
  ::shutdown(oldest->second.sock, SHUT_RDWR);
  oldest->second.reading_since = kNotReading;
  ++evictions_;
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  const std::thread::id self = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_[self] = {sock, SteadyClock::now()};
  }
  DeadlineStream stream(sock, options_.write_timeout_ms);
  bool ok = true;
  for (size_t i = 0; i < options_.max_requests_per_connection; ++i) {
    if (svr_sock_ == INVALID_SOCKET) break;  // stopping
    {
      // Waiting for a request holds a worker as reading one does.
      std::lock_guard<std::mutex> lock(mu_);
      active_[self].reading_since = SteadyClock::now();
    }
    if (!stream.WaitForRequest(options_.idle_timeout_ms)) break;
    stream.StartRequest(SteadyClock::now() +
                        std::chrono::milliseconds(options_.request_deadline_ms));
    bool closed = false;
    ok = process_request(stream, i + 1 == options_.max_requests_per_connection, closed, nullptr);
    if (!ok || closed) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(self);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace klaxon::service

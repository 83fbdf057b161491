// Prometheus text exposition (format 0.0.4) for the admin server's /metrics, and the latency
// histogram the run loop records into. The service builds the text from snapshots on each
// scrape, so there is no metrics registry and no global state.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace klaxon::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PromText {
 public:
  // Starts a metric family: # HELP and # TYPE lines.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Seconds-valued histogram with fixed buckets; Observe is lock-free (one writer, any readers).
class LatencyHistogram {
 public:
  using Bounds = std::array<double, 16>;
  // Evaluation of one event: microseconds.
  static constexpr Bounds kEvaluationBounds = {
      0.000002, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
      0.001,    0.0025,   0.005,   0.01,     0.025,   0.05,   0.1,     0.25};
  // From a message's broker timestamp to its notification in the outbox: milliseconds.
  static constexpr Bounds kDeliveryBounds = {0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075,
                                             0.1,   0.25,  0.5,   1,    2.5,  5,    7.5,  10};
  explicit LatencyHistogram(const Bounds& bounds) : bounds_(bounds) {}
  void Observe(double seconds);
  void Write(PromText& out, std::string_view name, std::string_view help) const;

 private:
  const Bounds& bounds_;
  std::array<std::atomic<uint64_t>, Bounds().size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace klaxon::service

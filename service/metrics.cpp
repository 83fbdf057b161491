#include "service/metrics.h"

#include <cmath>

#include <fmt/format.h>

namespace klaxon::service {
namespace {

std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatSampleValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

void PromText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void PromText::Sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += labels[i].first + "=\"" + EscapeLabel(labels[i].second) + "\"";
    }
    text_ += '}';
  }
  text_ += ' ' + FormatSampleValue(value) + '\n';
}

void LatencyHistogram::Observe(double seconds) {
  size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
}

void LatencyHistogram::Write(PromText& out, std::string_view name, std::string_view help) const {
  out.Family(name, "histogram", help);
  uint64_t cumulative = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    out.Sample(bucket, {{"le", fmt::format("{}", bounds_[i])}}, static_cast<double>(cumulative));
  }
  cumulative += counts_[bounds_.size()].load(std::memory_order_relaxed);
  out.Sample(bucket, {{"le", "+Inf"}}, static_cast<double>(cumulative));
  out.Sample(std::string(name) + "_sum", {},
             static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9);
  out.Sample(std::string(name) + "_count", {}, static_cast<double>(cumulative));
}

}  // namespace klaxon::service

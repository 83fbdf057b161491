#include "service/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace klaxon::service {
namespace {

// Fields 14 (utime), 15 (stime), 23 (vsize) and 24 (rss) of /proc/self/stat, counted after the
// command name, which may itself hold spaces and parentheses.
bool ReadStat(double& cpu_seconds, double& virtual_bytes, double& resident_bytes) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0, vsize = 0, rss = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
    if (i == 23) vsize = std::stod(field);
    if (i == 24) {
      rss = std::stod(field);
      break;
    }
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  cpu_seconds = ticks > 0 ? (utime + stime) / ticks : 0;
  virtual_bytes = vsize;
  resident_bytes = rss * page;
  return true;
}

}  // namespace

void WriteProcessMetrics(PromText& out, int64_t start_time_ms) {
  double cpu = 0, virt = 0, rss = 0;
  bool stat_ok = false;
  try {
    stat_ok = ReadStat(cpu, virt, rss);
  } catch (const std::exception&) {  // std::stod on a field the kernel never writes
    stat_ok = false;
  }
  if (stat_ok) {
    out.Family("process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.");
    out.Sample("process_cpu_seconds_total", {}, cpu);
    out.Family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    out.Sample("process_virtual_memory_bytes", {}, virt);
    out.Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out.Sample("process_resident_memory_bytes", {}, rss);
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) {
    out.Family("process_open_fds", "gauge", "Number of open file descriptors.");
    out.Sample("process_open_fds", {}, fds);
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.Family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out.Sample("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
  }
  out.Family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
  out.Sample("process_start_time_seconds", {}, static_cast<double>(start_time_ms) / 1000.0);
}

}  // namespace klaxon::service

// The naive replay loop `klaxon replay` must beat: std::getline over a JSON Lines file plus a
// simdjson on-demand parse of each line touching the fields rules read (baseline_parse.h).
// Prints events/s in thread CPU time. Used by bench/replay_bench.sh.
// usage: naive_loop_bench FILE
#include <time.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "bench/baseline_parse.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: naive_loop_bench FILE\n");
    return 2;
  }
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  const double t0 = cpu_now();
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "naive_loop_bench: cannot open %s\n", argv[1]);
    return 1;
  }
  simdjson::ondemand::parser parser;
  std::string line;
  uint64_t events = 0, sink = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    sink += klaxon::bench::TouchEventFields(parser, line.data(), line.size(), line.capacity());
    ++events;
  }
  const double seconds = cpu_now() - t0;
  std::printf("naive getline + parse: %llu events, %.0f events/s (cpu %.3f s, sink %llu)\n",
              static_cast<unsigned long long>(events), static_cast<double>(events) / seconds,
              seconds, static_cast<unsigned long long>(sink % 10));
  return 0;
}

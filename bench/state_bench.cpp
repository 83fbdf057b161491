// Checkpoint benchmark: an engine holding N groups of `frequency > 5/min group by user.id`
// (every group with 5 events in its window, none firing), then, interleaved over several rounds:
// SaveState, a StateStore save (SQLite, WAL), and the restart path (StateStore load +
// RestoreState into a fresh engine, up to the first evaluated event).
// Then incremental checkpoints: 1% of the groups touched per round, only they written, and the
// restart path from the group rows.
// Usage: state_bench [groups] [rounds] [incremental rounds] [threshold] (default 1000000 3 5 5;
// a threshold above 64 keeps every group's events in a run ring, as
// bench/restart_state_bench.sh's `frequency > 1000000 in 1h` does). Figures go
// to bench/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "service/state_store.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

klaxon::RuleSet Rules(double threshold) {
  klaxon::Rule r;
  r.name = "per-user";
  r.condition.kind = klaxon::Condition::Kind::kCount;
  r.condition.op = klaxon::CompareOp::kGt;
  r.condition.threshold = threshold;
  r.condition.window_ms = 60000;
  klaxon::FieldRef user;
  user.name = "user.id";
  user.kind = klaxon::FieldRef::Kind::kPath;
  user.path = {"user", "id"};
  r.group_by = {user};
  klaxon::RuleSet rs;
  rs.rules.push_back(r);
  return rs;
}

std::unique_ptr<klaxon::Engine> NewEngine(size_t groups, double threshold) {
  klaxon::EngineOptions o;
  o.allowed_lateness_ms = 0;
  o.max_groups_per_rule = groups;
  auto e = klaxon::Engine::Create(Rules(threshold), o);
  if (!e.ok()) {
    std::fprintf(stderr, "%s\n", e.status().message().c_str());
    std::exit(1);
  }
  return std::move(e).value();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t groups = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  const int incremental_rounds = argc > 3 ? std::atoi(argv[3]) : 5;
  const double threshold = argc > 4 ? std::atof(argv[4]) : 5;
  auto engine = NewEngine(groups, threshold);
  std::vector<klaxon::Notification> out;
  const int64_t t0 = 1764028800000;
  char buf[128];
  // 5 events per group, all within one minute: every group holds a full-but-one window.
  for (int k = 0; k < 5; ++k) {
    for (size_t g = 0; g < groups; ++g) {
      const int64_t t = t0 + k * 11000 + static_cast<int64_t>(g * 11000 / groups);
      const int n =
          std::snprintf(buf, sizeof(buf), R"({"timestamp":%lld.%03lld,"user":{"id":"u-%zu"}})",
                        static_cast<long long>(t / 1000), static_cast<long long>(t % 1000), g);
      engine->Process(std::string_view(buf, static_cast<size_t>(n)), out);
    }
  }
  std::printf("groups %zu, notifications while loading %zu\n", engine->Stats().rules[0].groups,
              out.size());
  const std::string path =
      (std::filesystem::temp_directory_path() / "klaxon-state-bench.state").string();
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  auto store = klaxon::service::StateStore::Open(path);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    return 1;
  }
  std::printf(
      "round  save_state_s  bytes  bytes/group  store_save_s  store_load_s  restore_s  "
      "restart_to_first_event_s\n");
  for (int round = 1; round <= rounds; ++round) {
    klaxon::service::Checkpoint c;
    auto t = Clock::now();
    if (!engine->SaveState(c.engine_state).ok()) return 1;
    const double save = Seconds(t);
    c.offsets = {{"events", 0, 123456, t0}};
    t = Clock::now();
    if (!(*store)->Save(c).ok()) return 1;
    const double store_save = Seconds(t);
    // The restart path: read the checkpoint, restore a fresh engine, evaluate one event.
    t = Clock::now();
    auto loaded = (*store)->Load();
    if (!loaded.ok() || !loaded->has_value()) return 1;
    const double store_load = Seconds(t);
    auto restarted = NewEngine(groups, threshold);
    auto r0 = Clock::now();
    if (!restarted->RestoreState((*loaded)->engine_state).ok()) return 1;
    const double restore = Seconds(r0);
    const int n = std::snprintf(buf, sizeof(buf), R"({"timestamp":%lld.000,"user":{"id":"u-1"}})",
                                static_cast<long long>((t0 + 60000) / 1000));
    restarted->Process(std::string_view(buf, static_cast<size_t>(n)), out);
    const double to_first = Seconds(t);
    std::printf("%5d  %12.3f  %zu  %11.1f  %12.3f  %12.3f  %9.3f  %24.3f\n", round, save,
                c.engine_state.size(),
                static_cast<double>(c.engine_state.size()) / static_cast<double>(groups),
                store_save, store_load, restore, to_first);
  }
  // Incremental checkpoints (Engine::SaveStateChanges into the store's group rows): the first
  // lists every group; then per round 1% of the groups get an event and only they are written.
  std::printf("incremental  round  touched  changes_s  rows  bytes  store_save_s  checkpoint_s\n");
  klaxon::StateChanges changes;
  klaxon::service::Checkpoint ic;
  ic.changes = &changes;
  ic.offsets = {{"events", 0, 123456, t0}};
  const size_t touched = std::max<size_t>(1, groups / 100);
  int64_t now = t0 + 61000;
  for (int round = 0; round <= incremental_rounds; ++round) {
    if (round > 0) {
      for (size_t i = 0; i < touched; ++i) {
        const size_t g = (static_cast<size_t>(round) * 7919 + i * 104729) % groups;
        const int n = std::snprintf(
            buf, sizeof(buf), R"({"timestamp":%lld.%03lld,"user":{"id":"u-%zu"}})",
            static_cast<long long>(now / 1000), static_cast<long long>(now % 1000), g);
        engine->Process(std::string_view(buf, static_cast<size_t>(n)), out);
      }
      now += 1000;
    }
    auto t = Clock::now();
    if (!engine->SaveStateChanges(changes).ok()) return 1;
    const double save = Seconds(t);
    const auto s0 = Clock::now();
    if (!(*store)->Save(ic).ok()) return 1;
    const double store_save = Seconds(s0);
    std::printf("incremental  %5d  %7zu  %9.3f  %zu  %zu  %12.3f  %12.3f%s\n", round,
                round == 0 ? groups : touched, save, changes.group_count,
                (*store)->last_save_bytes(), store_save, Seconds(t),
                changes.full ? "  (first: every group)" : "");
  }
  {
    // The restart path from the group rows: open the store (as a restart does), load (read and
    // merge the parts), restore straight from the rows, one event.
    store->reset();
    const auto t = Clock::now();
    store = klaxon::service::StateStore::Open(path);
    if (!store.ok()) return 1;
    const double open = Seconds(t);
    auto loaded = (*store)->Load();
    if (!loaded.ok() || !loaded->has_value()) return 1;
    const double store_load = Seconds(t) - open;
    auto restarted = NewEngine(groups, threshold);
    const auto r0 = Clock::now();
    if (!(*loaded)->Restore(*restarted).ok()) return 1;
    const double restore = Seconds(r0);
    const int n = std::snprintf(buf, sizeof(buf), R"({"timestamp":%lld.000,"user":{"id":"u-1"}})",
                                static_cast<long long>(now / 1000));
    restarted->Process(std::string_view(buf, static_cast<size_t>(n)), out);
    const double to_first = Seconds(t);
    std::string live, assembled;
    if (!engine->SaveState(live).ok() || !(*loaded)->WholeState(assembled).ok()) return 1;
    std::printf(
        "incremental restart: open %.3f s, store load %.3f s (%zu bytes), restore %.3f s, to "
        "first evaluated event %.3f s; stored state equals the live engine's: %s\n",
        open, store_load, (*loaded)->Bytes(), restore, to_first, assembled == live ? "yes" : "NO");
  }
  store->reset();
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return 0;
}

// Incremental checkpoints across crashes: each "life" is a child process that restores the last
// checkpoint, goes on from its offset, checkpoints (at once, as the run loop does, then deltas,
// with compactions) and is killed with SIGKILL between checkpoints, its SQLite
// connection never closed. After several lives the state restored and fed the rest of the
// events equals, byte for byte, the state of an engine that ran uninterrupted, and the
// notifications the lives handed out are exactly the uninterrupted run's.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "service/state_store.h"
#include "tests/connectors/test_util.h"
#include "tests/engine/engine_test_util.h"

namespace klaxon::service {
namespace {

using connectors::testing::TempDir;
using namespace klaxon::testing;

std::unique_ptr<Engine> MakeEngine() {
  FieldRef user = PathField("user.id", {"user", "id"});
  std::vector<Rule> rules;
  Rule c = CountRule("count", Predicate(), CompareOp::kGt, 2, 20000);
  c.group_by = {Service(), user};
  c.pending_ms = 3000;
  c.keep_firing_ms = 2000;
  rules.push_back(c);
  Rule flat = CountRule("flat", Predicate(), CompareOp::kLt, 1, 30000);
  flat.group_by = {Service()};
  rules.push_back(flat);
  Rule u = CountRule("unique", Predicate(), CompareOp::kGt, 12, 60000);
  u.condition.kind = Condition::Kind::kUnique;
  u.condition.field = user;
  u.group_by = {Service()};
  rules.push_back(u);
  Rule nv = EveryRule("new", Predicate());
  nv.condition.kind = Condition::Kind::kNewValue;
  nv.condition.field = user;
  nv.group_by = {Service()};
  rules.push_back(nv);
  RuleSet rs;
  rs.rules = std::move(rules);
  EngineOptions options;
  options.allowed_lateness_ms = 2000;
  options.max_groups_per_rule = 150;  // eviction and slot reuse between checkpoints
  auto e = Engine::Create(std::move(rs), options);
  REQUIRE(e.ok());
  return std::move(e).value();
}

// A service goes quiet now and then (flatlines), users come and go (new groups, evictions),
// events arrive up to a second out of order (held events in the checkpoints).
std::vector<std::string> Events(size_t n) {
  std::vector<std::string> out;
  uint64_t x = 88172645463325252ull;
  int64_t t = kT0;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    t += x % 200 == 0 ? 45000 : static_cast<int64_t>(x % 700);
    const int service = static_cast<int>(x >> 20) % (i % 3000 < 1500 ? 4 : 3);
    out.push_back(Ev(t - static_cast<int64_t>((x >> 30) % 1000),
                     "\"tags\":{\"service\":\"s" + std::to_string(service) +
                         "\"},\"user\":{\"id\":\"u" + std::to_string((x >> 40) % 400) + "\"}"));
  }
  return out;
}

void Append(const std::vector<Notification>& notes, std::FILE* f) {
  for (const std::string& s : ShowAll(notes)) std::fprintf(f, "%s\n", s.c_str());
  std::fflush(f);
}

// One life of the service, in a child: restore (and with `continue_changes` go on appending to
// the stored rows, as the run loop does, rather than writing every group again), checkpoint at
// once, evaluate from the checkpoint's offset, checkpoint every `every` events, and die by
// SIGKILL after event `kill_at` (or exit at the end). Notifications reach `outbox` before the
// checkpoint that covers them.
[[noreturn]] void Life(const std::string& path, const std::vector<std::string>& events,
                       size_t kill_at, size_t every, bool continue_changes,
                       const std::string& outbox) {
  auto store = StateStore::Open(path);
  if (!store.ok()) ::_exit(10);
  auto loaded = (*store)->Load();
  if (!loaded.ok()) ::_exit(11);
  auto engine = MakeEngine();
  size_t next = 0;
  if (loaded->has_value()) {
    if (!(**loaded).Restore(*engine).ok()) ::_exit(12);
    next = static_cast<size_t>((**loaded).offsets.at(0).next_offset);
    // As the run loop does: the store holds these groups, the first save appends what changed.
    if (continue_changes && !engine->ContinueChanges((**loaded).last_rank)) ::_exit(16);
  }
  std::FILE* notes = std::fopen(outbox.c_str(), "a");
  if (notes == nullptr) ::_exit(13);
  StateChanges changes;
  std::vector<Notification> out;
  auto checkpoint = [&](size_t offset) {
    Append(out, notes);
    out.clear();
    if (!engine->SaveStateChanges(changes).ok()) ::_exit(14);
    Checkpoint c;
    c.changes = &changes;
    c.offsets = {{"events", 0, static_cast<int64_t>(offset)}};
    if (!(*store)->Save(c).ok()) ::_exit(15);
  };
  checkpoint(next);
  for (size_t i = next; i < events.size(); ++i) {
    engine->Process(events[i], out);
    if (i == kill_at) {
      Append(out, notes);  // handed to the outbox, not covered by a checkpoint
      std::raise(SIGKILL);
    }
    if ((i + 1) % every == 0) checkpoint(i + 1);
  }
  ::_exit(20);
}

void RestartsChangeNothing(bool continue_changes) {
  const std::vector<std::string> events = Events(6000);
  auto uninterrupted = MakeEngine();
  std::vector<Notification> want_notes;
  for (const std::string& e : events) uninterrupted->Process(e, want_notes);
  std::string want;
  REQUIRE(uninterrupted->SaveState(want).ok());

  TempDir dir;
  const std::string path = dir.File("klaxon.state");
  const std::string outbox = dir.File("outbox.txt");
  // Killed mid-interval, right after a restart (only the start's checkpoint), and again.
  const size_t kills[] = {1234, 1240, 2901, 2950, 2951, 4470, 5333};
  for (size_t kill_at : kills) {
    CAPTURE(kill_at);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) Life(path, events, kill_at, 97, continue_changes, outbox);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "life exited with " << WEXITSTATUS(status));
    CHECK(WTERMSIG(status) == SIGKILL);
  }

  auto store = StateStore::Open(path);
  REQUIRE(store.ok());
  auto loaded = (*store)->Load();
  REQUIRE_MESSAGE(loaded.ok(), loaded.status().message());
  REQUIRE(loaded->has_value());
  auto restored = MakeEngine();
  REQUIRE((**loaded).Restore(*restored).ok());
  const auto next = static_cast<size_t>((**loaded).offsets.at(0).next_offset);
  CHECK(next > kills[std::size(kills) - 2]);  // the last life's checkpoints were kept
  std::vector<Notification> rest;
  for (size_t i = next; i < events.size(); ++i) restored->Process(events[i], rest);
  std::string got;
  REQUIRE(restored->SaveState(got).ok());
  CHECK(got.size() == want.size());
  CHECK(got == want);

  std::set<std::string> handed;
  {
    std::ifstream in(outbox);
    for (std::string line; std::getline(in, line);) handed.insert(line);
  }
  for (const std::string& s : ShowAll(rest)) handed.insert(s);
  const std::vector<std::string> all = ShowAll(want_notes);
  CHECK(all.size() > 20);
  CHECK(handed == std::set<std::string>(all.begin(), all.end()));
}

TEST_CASE("incremental checkpoints: restarts after kill -9 change nothing") {
  SUBCASE("a restart appends to the stored rows") { RestartsChangeNothing(true); }
  SUBCASE("a restart writes every group again") { RestartsChangeNothing(false); }
}

}  // namespace
}  // namespace klaxon::service

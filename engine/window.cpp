// What the window kinds share: thresholds, the kind of a condition, defaults, run rings.
#include "engine/window.h"

#include <cmath>

#include "engine/event_decoder.h"

namespace klaxon {

void ThresholdToK(CompareOp op, double x, uint64_t& k, bool& lower) {
  auto clamp = [](double v) -> uint64_t {
    if (v <= 0) return 0;
    if (v > 1e15) return static_cast<uint64_t>(1e15);
    return static_cast<uint64_t>(v);
  };
  switch (op) {
    case CompareOp::kGt:
      k = clamp(std::floor(x) + 1);
      lower = false;
      break;
    case CompareOp::kGe:
    case CompareOp::kEq:  // == N on a count is treated as >= N (documented)
      k = clamp(std::ceil(x));
      lower = false;
      break;
    case CompareOp::kLt:
      k = clamp(std::ceil(x));
      lower = true;
      break;
    case CompareOp::kLe:
      k = clamp(std::floor(x) + 1);
      lower = true;
      break;
  }
  if (!lower && k == 0) k = 1;
}

const WindowKind& WindowKindFor(Condition::Kind kind) {
  switch (kind) {
    case Condition::Kind::kEvery:
      return EveryWindow();
    case Condition::Kind::kNewValue:
      return NewValueWindow();
    case Condition::Kind::kCount:
      return CountWindow();
    case Condition::Kind::kUnique:
      return UniqueWindow();
    case Condition::Kind::kChange:
      return ChangeWindow();
    case Condition::Kind::kRatio:
      return RatioWindow();
  }
  return EveryWindow();
}

void WindowKind::TriggerIds(const CompiledRule&, const RuleState&, uint32_t, const DecodedEvent* ev,
                            std::vector<std::string>& ids) const {
  if (ev && !ev->EventId().empty()) ids.emplace_back(ev->EventId());
}

bool WindowKind::RestoreParts(uint8_t parts, StateReader&, GroupExtra&, std::string& error) const {
  if (parts == 0) return true;
  error = "window parts of another condition kind";
  return false;
}

uint8_t RunRingWindow::Parts(const GroupExtra& x) const {
  return static_cast<uint8_t>(owned_ & ((x.a.empty() ? 0 : kExtraA) | (x.b.empty() ? 0 : kExtraB)));
}

void RunRingWindow::SaveParts(const GroupExtra& x, uint8_t parts, StateWriter& w) const {
  if (parts & kExtraA) SaveRuns(x.a, w);
  if (parts & kExtraB) SaveRuns(x.b, w);
}

bool RunRingWindow::RestoreParts(uint8_t parts, StateReader& r, GroupExtra& x,
                                 std::string& error) const {
  if ((parts & ~owned_) != 0) return WindowKind::RestoreParts(parts, r, x, error);
  if (parts & kExtraA) LoadRuns(r, x.a);
  if (parts & kExtraB) LoadRuns(r, x.b);
  return true;
}

void SaveRuns(const RunRing& ring, StateWriter& w) {
  w.U32(static_cast<uint32_t>(ring.runs.size() - ring.head));
  for (size_t i = ring.head; i < ring.runs.size(); ++i) {
    w.I64(ring.runs[i].ts);
    w.U64(ring.runs[i].count);
  }
}

void LoadRuns(StateReader& r, RunRing& ring) {
  const uint32_t n = r.Count(16);
  ring.runs.resize(n);
  for (Run& run : ring.runs) {
    run.ts = r.I64();
    run.count = r.U64();
    ring.total += run.count;
  }
}

}  // namespace klaxon

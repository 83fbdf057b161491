#include "engine/rule.h"

#include "engine/notification.h"

namespace klaxon {

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kCritical:
      return "critical";
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "error";
}

const char* CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kEq:
      return "==";
  }
  return ">";
}

const char* AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kFiring:
      return "firing";
    case AlertState::kRepeat:
      return "repeat";
    case AlertState::kResolved:
      return "resolved";
  }
  return "firing";
}

}  // namespace klaxon

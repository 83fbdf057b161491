// AssignmentWait: a consumer without partitions is told why once, after the delay, and once
// more when they arrive; a short wait says nothing.
#include "service/assignment_wait.h"

#include <doctest/doctest.h>

namespace klaxon::service {
namespace {

using Change = AssignmentWait::Change;

TEST_CASE("a long wait for partitions is told once, then its end") {
  AssignmentWait wait(5000, 45000);
  CHECK(wait.Observe(false, 1000).change == Change::kNone);  // the wait starts here
  CHECK(wait.Observe(false, 5999).change == Change::kNone);
  const AssignmentWait::Note told = wait.Observe(false, 6000);
  CHECK(told.change == Change::kWaiting);
  CHECK(told.waited_ms == 5000);
  CHECK(wait.Observe(false, 30000).change == Change::kNone);  // once, not every pass
  const AssignmentWait::Note end = wait.Observe(true, 46000);
  CHECK(end.change == Change::kAssigned);
  CHECK(end.waited_ms == 45000);
  CHECK(wait.Observe(true, 47000).change == Change::kNone);
  CHECK(wait.Reason().find("session.timeout.ms, 45s") != std::string::npos);
  CHECK(wait.Reason().find("group.instance.id") != std::string::npos);
  // A later rebalance that takes every partition away is a new wait.
  CHECK(wait.Observe(false, 50000).change == Change::kNone);
  CHECK(wait.Observe(false, 55000).change == Change::kWaiting);
}

TEST_CASE("a short wait for partitions says nothing, not even its end") {
  AssignmentWait wait(5000, 45000);
  CHECK(wait.Observe(false, 0).change == Change::kNone);
  CHECK(wait.Observe(false, 3000).change == Change::kNone);
  CHECK(wait.Observe(true, 4000).change == Change::kNone);
  CHECK(wait.Observe(true, 100000).change == Change::kNone);
}

TEST_CASE("session.timeout.ms comes from kafka.properties, else librdkafka's 45 s") {
  CHECK(SessionTimeoutMs({}) == 45000);
  CHECK(SessionTimeoutMs({{"session.timeout.ms", "10000"}}) == 10000);
  CHECK(SessionTimeoutMs({{"session.timeout.ms", "10s"}}) == 45000);  // librdkafka refuses it
}

}  // namespace
}  // namespace klaxon::service

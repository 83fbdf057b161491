// The failure labels the dispatcher reports: every final result ClassifyResponse can give maps
// into FailureReasonLabels(), so /metrics can pre-set each one to 0.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "actions/action.h"
#include "actions/dispatcher.h"

namespace klaxon::actions {
namespace {

bool Listed(const std::string& label) {
  auto labels = FailureReasonLabels();
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

TEST_CASE("every final HTTP status counts under a listed label, by class") {
  for (int status = 100; status < 600; ++status) {
    HttpResponse r;
    r.status = status;
    const DeliveryResult d = ClassifyResponse(r, 0);
    if (d.kind != DeliveryResult::Kind::kFinal) continue;
    INFO("status ", status);
    CHECK(Listed(FailureReasonLabel(d.reason)));
  }
  CHECK(FailureReasonLabel("http_404") == "http_4xx");
  CHECK(FailureReasonLabel("http_302") == "http_3xx");
}

TEST_CASE("every final transport error and the dispatcher's own reasons are listed") {
  for (TransportError e :
       {TransportError::kBlocked, TransportError::kBadUrl, TransportError::kResolve,
        TransportError::kConnect, TransportError::kTimeout, TransportError::kConnection,
        TransportError::kCancelled}) {
    HttpResponse r;
    r.error = e;
    const DeliveryResult d = ClassifyResponse(r, 0);
    if (d.kind != DeliveryResult::Kind::kFinal) continue;
    INFO("error ", d.reason);
    CHECK(Listed(FailureReasonLabel(d.reason)));
  }
  for (const char* reason : {"expired", "gone", "disabled", "render", "transition_not_found"}) {
    INFO(reason);
    CHECK(Listed(FailureReasonLabel(reason)));
  }
}

}  // namespace
}  // namespace klaxon::actions

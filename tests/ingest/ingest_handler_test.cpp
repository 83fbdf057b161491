#include "ingest/ingest_handler.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "ingest/queue_source.h"

namespace klaxon::ingest {
namespace {

constexpr const char* kEventId = "9ec79c33ec9942ab8353589fcb2e04dc";

struct Fixture {
  EventQueue queue{100, 1 << 20};
  QueueSink sink{queue};
  IngestMetrics metrics;
  IngestHandler handler{
      HandlerOptions{{{42, "orders-api", {"k42"}, 0, 0}, {7, "web", {"k7"}, 2.0, 2.0}}, 1000}, sink,
      metrics};

  IngestResponse Envelope(const std::string& project, const std::string& auth,
                          const std::string& body, int64_t now_ms = 0) {
    IngestRequest r;
    r.project_id = project;
    r.auth_header = auth;
    r.body = body;
    return handler.Handle(r, now_ms);
  }
  std::vector<nlohmann::json> Drain() {
    std::vector<nlohmann::json> out;
    std::string e;
    while (queue.Pop(std::chrono::milliseconds(0), &e)) out.push_back(nlohmann::json::parse(e));
    return out;
  }
};

std::string EventEnvelope(const std::string& event, const std::string& header = "{}") {
  return header + "\n{\"type\":\"event\",\"length\":" + std::to_string(event.size()) + "}\n" +
         event + "\n";
}

TEST_CASE("handler: an event item becomes one stamped event; other items are counted") {
  Fixture f;
  const std::string body = std::string("{\"event_id\":\"") + kEventId + "\"}\n" +
                           "{\"type\":\"event\"}\n{\"event_id\":\"" + kEventId +
                           "\",\"level\":\"error\",\"project\":\"spoofed\",\"project_id\":1}\n"
                           "{\"type\":\"session\"}\n{}\n{\"type\":\"client_report\"}\n{}\n"
                           "{\"type\":\"transaction\"}\n{}\n";
  IngestResponse r = f.Envelope("42", "Sentry sentry_key=k42, sentry_version=7", body);
  CHECK(r.status == 200);
  CHECK(r.body == std::string("{\"id\":\"") + kEventId + "\"}");
  auto events = f.Drain();
  REQUIRE(events.size() == 1);
  CHECK(events[0]["project"] == "orders-api");  // the DSN's project wins over the body's
  CHECK(events[0]["project_id"] == 42);
  CHECK(events[0]["level"] == "error");
  CHECK(f.metrics.events_accepted("orders-api") == 1);
  CHECK(f.metrics.items_dropped("orders-api", "session", "unsupported_type") == 1);
  CHECK(f.metrics.items_dropped("orders-api", "client_report", "unsupported_type") == 1);
  CHECK(f.metrics.items_dropped("orders-api", "transaction", "unsupported_type") == 1);
  CHECK(f.metrics.requests("envelope", 200) == 1);
}

TEST_CASE("handler: an envelope without events answers {} and queues nothing") {
  Fixture f;
  IngestResponse r = f.Envelope("42", "Sentry sentry_key=k42", "{}\n{\"type\":\"session\"}\n{}\n");
  CHECK(r.status == 200);
  CHECK(r.body == "{}");
  CHECK(f.Drain().empty());
}

TEST_CASE("handler: the key from the query, and from the envelope header's dsn") {
  Fixture f;
  IngestRequest q;
  q.project_id = "42";
  q.query = "sentry_version=7&sentry_key=k42";
  const std::string body = EventEnvelope("{\"message\":\"hi\"}");
  q.body = body;
  CHECK(f.handler.Handle(q, 0).status == 200);
  CHECK(f.Envelope("42", "", EventEnvelope("{}", "{\"dsn\":\"http://k42@127.0.0.1:9000/42\"}"))
            .status == 200);
  // A DSN of another project id does not authenticate this one.
  CHECK(f.Envelope("42", "", EventEnvelope("{}", "{\"dsn\":\"http://k42@127.0.0.1:9000/7\"}"))
            .status == 401);
  auto events = f.Drain();
  REQUIRE(events.size() == 2);
  // An event without an event_id gets one: 32 hex digits, as Sentry's.
  CHECK(events[0]["event_id"].get<std::string>().size() == 32);
  CHECK(events[0]["event_id"] != events[1]["event_id"]);
}

TEST_CASE("handler: store bodies are events") {
  Fixture f;
  IngestRequest r;
  r.endpoint = Endpoint::kStore;
  r.project_id = "42";
  r.auth_header = "Sentry sentry_key=k42";
  const std::string body = std::string("{\"event_id\":\"") + kEventId + "\",\"message\":\"m\"}";
  r.body = body;
  IngestResponse res = f.handler.Handle(r, 0);
  CHECK(res.status == 200);
  CHECK(res.body == std::string("{\"id\":\"") + kEventId + "\"}");
  CHECK(f.Drain().size() == 1);
  CHECK(f.metrics.requests("store", 200) == 1);
  r.body = "[1,2]";
  IngestResponse bad = f.handler.Handle(r, 0);
  CHECK(bad.status == 400);
  CHECK(bad.body == "{\"detail\":\"invalid event: the event is not a JSON object\"}");
}

TEST_CASE("handler: auth failures and malformed envelopes answer as Sentry does") {
  Fixture f;
  const std::string ok = EventEnvelope("{}");
  IngestResponse missing = f.Envelope("42", "", ok);
  CHECK(missing.status == 401);
  CHECK(missing.body == "{\"detail\":\"missing authorization information\"}");
  IngestResponse wrong = f.Envelope("42", "Sentry sentry_key=nope", ok);
  CHECK(wrong.status == 401);
  CHECK(wrong.body == "{\"detail\":\"invalid public key for project 42\"}");
  IngestResponse unknown = f.Envelope("99", "Sentry sentry_key=k42", ok);
  CHECK(unknown.status == 403);
  CHECK(unknown.body == "{\"detail\":\"event submission rejected with_reason: ProjectId\"}");
  IngestResponse malformed = f.Envelope("42", "Sentry sentry_key=k42", "{\"event_id\":");
  CHECK(malformed.status == 400);
  CHECK(malformed.body ==
        "{\"detail\":\"invalid envelope: envelope header is not a JSON object\"}");
  IngestResponse bad_event = f.Envelope("42", "Sentry sentry_key=k42", EventEnvelope("{oops"));
  CHECK(bad_event.status == 400);
  CHECK(f.metrics.items_dropped("orders-api", "event", "invalid") == 1);
  CHECK(f.Drain().empty());
  CHECK(f.metrics.requests("envelope", 401) == 2);
  CHECK(f.metrics.requests("envelope", 403) == 1);
  CHECK(f.metrics.requests("envelope", 400) == 2);
}

TEST_CASE("handler: an event past max_event_bytes is refused with 413") {
  Fixture f;
  IngestResponse r = f.Envelope("42", "Sentry sentry_key=k42",
                                EventEnvelope("{\"m\":\"" + std::string(2000, 'x') + "\"}"));
  CHECK(r.status == 413);
  CHECK(f.metrics.items_dropped("orders-api", "event", "too_large") == 1);
  CHECK(f.Drain().empty());
}

TEST_CASE("handler: the per-project rate limit answers 429 with Retry-After") {
  Fixture f;  // project 7: 2 events/s, burst 2
  const std::string body = EventEnvelope("{}");
  CHECK(f.Envelope("7", "Sentry sentry_key=k7", body, 10000).status == 200);
  CHECK(f.Envelope("7", "Sentry sentry_key=k7", body, 10000).status == 200);
  IngestResponse limited = f.Envelope("7", "Sentry sentry_key=k7", body, 10000);
  CHECK(limited.status == 429);
  CHECK(limited.retry_after_s == 1);
  CHECK(limited.rate_limits == "1:error;default;security:project:rate_limit");
  CHECK(f.metrics.items_dropped("web", "event", "rate_limited") == 1);
  // Envelopes without events are not limited.
  CHECK(f.Envelope("7", "Sentry sentry_key=k7", "{}\n{\"type\":\"session\"}\n{}\n", 10000).status ==
        200);
  CHECK(f.Envelope("7", "Sentry sentry_key=k7", body, 10500).status == 200);
  // Another project is not affected.
  CHECK(f.Envelope("42", "Sentry sentry_key=k42", body, 10000).status == 200);
  CHECK(f.Drain().size() == 4);
}

TEST_CASE("handler: a full queue answers 503 and the source hands out what it holds") {
  EventQueue queue(2, 1 << 20);
  QueueSink sink(queue);
  IngestMetrics metrics;
  IngestHandler handler(HandlerOptions{{{42, "orders-api", {"k"}, 0, 0}}, 1000}, sink, metrics);
  IngestRequest r;
  r.project_id = "42";
  r.auth_header = "Sentry sentry_key=k";
  const std::string body = EventEnvelope("{\"n\":1}");
  r.body = body;
  CHECK(handler.Handle(r, 0).status == 200);
  CHECK(handler.Handle(r, 0).status == 200);
  IngestResponse full = handler.Handle(r, 0);
  CHECK(full.status == 503);
  CHECK(full.retry_after_s == 1);
  CHECK(metrics.items_dropped("orders-api", "event", "queue_full") == 1);

  QueueSource source(queue);
  connectors::Record record;
  Result<connectors::NextStatus> next = source.Next(std::chrono::milliseconds(0), &record);
  REQUIRE(next.ok());
  CHECK(*next == connectors::NextStatus::kRecord);
  CHECK(record.offset == 1);
  CHECK(record.partition == -1);
  CHECK(nlohmann::json::parse(record.payload)["n"] == 1);
  CHECK(*source.Next(std::chrono::milliseconds(0), &record) == connectors::NextStatus::kRecord);
  CHECK(record.offset == 2);
  CHECK(*source.Next(std::chrono::milliseconds(10), &record) == connectors::NextStatus::kIdle);
  // Room again: accepted.
  CHECK(handler.Handle(r, 0).status == 200);
  CHECK(source.Close().ok());
  CHECK(handler.Handle(r, 0).status == 503);  // closed: refused, not queued
}

TEST_CASE("handler: the queue is bounded in bytes too") {
  EventQueue queue(100, 10);
  std::string small = "12345";
  std::string big = "123456789";
  CHECK(queue.TryPush(small));
  CHECK_FALSE(queue.TryPush(big));
  CHECK(big == "123456789");  // left untouched on refusal
  CHECK(queue.bytes() == 5);
}

}  // namespace
}  // namespace klaxon::ingest

#include "ingest/envelope.h"

#include <doctest/doctest.h>

namespace klaxon::ingest {
namespace {

TEST_CASE("envelope: newline-terminated and length-prefixed items") {
  const std::string body =
      "{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"dsn\":\"http://k@h/42\"}\n"
      "{\"type\":\"event\",\"length\":12}\n{\"a\":\"b\\nc\"}\n"
      "{\"type\":\"session\"}\n{\"sid\":\"x\"}\n"
      "{\"type\":\"attachment\",\"length\":3}\na\nb";
  Result<Envelope> e = ParseEnvelope(body);
  REQUIRE(e.ok());
  CHECK(e->event_id == "9ec79c33ec9942ab8353589fcb2e04dc");
  CHECK(e->dsn == "http://k@h/42");
  REQUIRE(e->items.size() == 3);
  CHECK(e->items[0].type == "event");
  CHECK(e->items[0].payload == "{\"a\":\"b\\nc\"}");
  CHECK(e->items[1].type == "session");
  CHECK(e->items[1].payload == "{\"sid\":\"x\"}");
  CHECK(e->items[2].payload == "a\nb");  // length wins over newlines inside the payload
}

TEST_CASE("envelope: empty items, trailing newlines, no items") {
  Result<Envelope> e =
      ParseEnvelope("{}\n{\"type\":\"event\",\"length\":0}\n\n{\"type\":\"x\"}\n\n\n");
  REQUIRE(e.ok());
  REQUIRE(e->items.size() == 2);
  CHECK(e->items[0].payload.empty());
  CHECK(e->items[1].type == "x");
  CHECK(e->items[1].payload.empty());
  Result<Envelope> only_header = ParseEnvelope("{}");
  REQUIRE(only_header.ok());
  CHECK(only_header->items.empty());
  // CRLF line ends, as some proxies write them.
  Result<Envelope> crlf = ParseEnvelope("{}\r\n{\"type\":\"event\"}\r\n{\"x\":1}\r\n");
  REQUIRE(crlf.ok());
  REQUIRE(crlf->items.size() == 1);
  CHECK(crlf->items[0].payload == "{\"x\":1}");
}

TEST_CASE("envelope: malformed input is an error with a reason") {
  auto reason = [](std::string_view body) {
    Result<Envelope> e = ParseEnvelope(body);
    REQUIRE_FALSE(e.ok());
    return e.status().message();
  };
  CHECK(reason("") == "envelope header is not a JSON object");
  CHECK(reason("not json\n") == "envelope header is not a JSON object");
  CHECK(reason("[1]\n") == "envelope header is not a JSON object");
  CHECK(reason("{}\n{\"length\":1}\nx") == "item header has no type");
  CHECK(reason("{}\n{\"type\":7}\nx") == "item header has no type");
  CHECK(reason("{}\nnope\n") == "item header is not a JSON object");
  CHECK(reason("{}\n{\"type\":\"event\",\"length\":100}\n{}") ==
        "item length runs past the end of the envelope");
  CHECK(reason("{}\n{\"type\":\"event\",\"length\":-1}\n{}") ==
        "item length is not a whole number");
  CHECK(reason("{}\n{\"type\":\"event\",\"length\":\"2\"}\n{}") ==
        "item length is not a whole number");
  CHECK(reason("{}\n{\"type\":\"event\",\"length\":1}\nab\n") ==
        "item payload is not followed by a newline");
  std::string many = "{}\n";
  for (int i = 0; i < 3; ++i) many += "{\"type\":\"session\"}\n{}\n";
  Result<Envelope> capped = ParseEnvelope(many, 2);
  REQUIRE_FALSE(capped.ok());
  CHECK(capped.status().message() == "more than 2 items");
}

}  // namespace
}  // namespace klaxon::ingest

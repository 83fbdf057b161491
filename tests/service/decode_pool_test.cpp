// The decode pipeline: batches come back in submission order whatever worker finishes first,
// and decoding equals the engine's own.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "service/decode_pool.h"
#include "tests/service/decode_test_util.h"

namespace klaxon::service {
namespace {

using testing::Event;
using testing::TypeEngine;

// Bytes held for the pool, as KafkaSource::Hold does, counting their releases. A release
// overwrites the key, as the source's buffer would be reused.
struct HeldBytes {
  std::string bytes;
  std::string key;
  int released = 0;
  connectors::HeldPayload Hold() {
    return connectors::HeldPayload(this, [](void* p) {
      auto* held = static_cast<HeldBytes*>(p);
      ++held->released;
      held->key.assign(held->key.size(), '#');
    });
  }
};

TEST_CASE("decode pool: held payloads and keys are copied and released by the workers") {
  auto engine = TypeEngine();
  std::vector<HeldBytes> sources(40);
  for (int i = 0; i < 40; ++i) {
    sources[i].bytes = Event(i + 1);
    // Past the small-string buffer: a real copy.
    if (i % 2 == 0) sources[i].key = "orders-api.production.key-" + std::to_string(i);
  }
  {
    DecodePool pool([&] { return engine->NewDecoder(); }, 2, 3);
    DecodePool::Batch* batch = pool.Open();
    for (int i = 0; i < 20; ++i) {
      connectors::Record record;
      record.payload = sources[i].bytes;
      record.key = sources[i].key;
      record.offset = i;
      batch->Add(record, sources[i].Hold());
    }
    pool.Submit(batch);
    DecodePool::Batch* done = pool.TakeDecoded(true);
    REQUIRE(done == batch);
    for (int i = 0; i < 20; ++i) {
      CHECK(sources[i].released == 1);
      CHECK(done->items[i].event.Raw() == sources[i].bytes);
      CHECK(done->items[i].key ==
            (i % 2 == 0 ? "orders-api.production.key-" + std::to_string(i) : std::string()));
      CHECK((done->items[i].reason == RejectReason::kNone) == (i % 7 != 2));  // Event(i + 1)
    }
    pool.Release(done);
    // Held but never decoded: released when the pool goes away.
    DecodePool::Batch* pending = pool.Open();
    for (int i = 20; i < 40; ++i) {
      connectors::Record record;
      record.payload = sources[i].bytes;
      pending->Add(record, sources[i].Hold());
    }
    CHECK(sources[20].released == 0);
  }
  for (int i = 0; i < 40; ++i) CHECK(sources[i].released == 1);
}

TEST_CASE("decode pool: a record added without holding its bytes keeps its key") {
  auto engine = TypeEngine();
  DecodePool pool([&] { return engine->NewDecoder(); }, 1, 1);
  DecodePool::Batch* batch = pool.Open();
  std::string key = "checkout.eu-west-1.partition-key";
  const std::string bytes = Event(1);
  connectors::Record record;
  record.payload = bytes;
  record.key = key;
  batch->Add(record);
  key.assign(key.size(), '#');  // the source moved on
  pool.Submit(batch);
  DecodePool::Batch* done = pool.TakeDecoded(true);
  REQUIRE(done == batch);
  CHECK(done->items[0].key == "checkout.eu-west-1.partition-key");
  pool.Release(done);
}

TEST_CASE("decode pool: batches return in submission order with the engine's decoding") {
  auto engine = TypeEngine();
  DecodePool pool([&] { return engine->NewDecoder(); }, 2, 3);
  int submitted = 0, taken = 0;
  std::vector<Notification> notes;
  while (taken < 2000) {
    while (submitted < 2000 && pool.HasFree()) {
      DecodePool::Batch* batch = pool.Open();
      for (int k = 0; k < 1 + submitted % 5 && submitted < 2000 && !batch->full(); ++k) {
        const std::string payload = Event(submitted);
        connectors::Record record;
        record.payload = payload;
        record.offset = submitted++;
        batch->Add(record);
      }
      pool.Submit(batch);
    }
    CHECK(pool.InFlight() <= 3);
    DecodePool::Batch* batch = pool.TakeDecoded(true);
    REQUIRE(batch != nullptr);
    for (size_t i = 0; i < batch->size; ++i) {
      DecodePool::Item& item = batch->items[i];
      REQUIRE(item.offset == taken);
      CHECK(item.event.raw == Event(taken));
      CHECK((item.reason == RejectReason::kInvalidJson) == (taken % 7 == 3));
      if (item.reason == RejectReason::kNone)
        CHECK(item.event.time_ms == (1764028800 + taken) * 1000LL);
      const ProcessResult r = engine->ProcessDecoded(item.event, item.reason, notes);
      CHECK(r.rejected == item.reason);
      ++taken;
    }
    pool.Release(batch);
  }
  CHECK(pool.TakeDecoded(true) == nullptr);
  CHECK(engine->Stats().accepted == 2000 - 2000 / 7 - (2000 % 7 > 3 ? 1 : 0));
}

}  // namespace
}  // namespace klaxon::service

#include "tests/connectors/relay_message.h"

namespace klaxon::service {
namespace {

TEST_CASE("decode pool: Relay's messages (kafka.format sentry_ingest), held or copied") {
  auto engine = TypeEngine();
  const std::map<int64_t, std::string> names = {{42, "orders-api"}};
  DecodePool pool([&] { return engine->NewDecoder(); }, 2, 2,
                  [&] { return std::make_unique<connectors::SentryIngestFormat>(names); });
  std::vector<HeldBytes> sources(5);
  sources[0].bytes = test::RelayEventMessage(Event(1), 42);
  sources[1].bytes = test::RelayEventMessage("{broken", 42);  // the decoder's reject
  sources[2].bytes = "\x81\xa4type";                          // truncated
  test::MsgpackWriter attachment;
  attachment.Map(2).Str("type").Str("attachment").Str("project_id").Uint(42);
  sources[3].bytes = attachment.Bytes();
  sources[4].bytes = test::RelayEventMessage(Event(2), 43);
  for (const bool held : {true, false}) {
    INFO("held " << held);
    DecodePool::Batch* batch = pool.Open();
    for (HeldBytes& s : sources) {
      connectors::Record record;
      record.payload = s.bytes;
      batch->Add(record, held ? s.Hold() : connectors::HeldPayload());
    }
    pool.Submit(batch);
    DecodePool::Batch* done = pool.TakeDecoded(true);
    REQUIRE(done == batch);
    const auto& items = done->items;
    CHECK(items[0].reason == RejectReason::kNone);
    CHECK(items[0].skipped_type.empty());
    CHECK(items[0].event.Raw().find(R"(,"project":"orders-api","project_id":42})") !=
          std::string_view::npos);
    CHECK(items[4].reason == RejectReason::kNone);
    CHECK(items[4].event.Raw().ends_with(R"(","project_id":43})"));
    // Rejected or skipped: the message's own bytes stay, for the dead-letter topic.
    CHECK(items[1].reason == RejectReason::kInvalidJson);
    CHECK(items[2].reason == RejectReason::kInvalidMessage);
    CHECK(std::string(items[2].detail) == "the msgpack message is truncated");
    CHECK(items[3].reason == RejectReason::kNone);
    CHECK(items[3].skipped_type == "attachment");
    for (int i = 1; i <= 3; ++i) CHECK(items[i].event.Raw() == sources[i].bytes);
    pool.Release(done);
  }
  for (const HeldBytes& s : sources) CHECK(s.released == 1);
}

}  // namespace
}  // namespace klaxon::service

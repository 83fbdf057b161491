// Kafka transactions and the changelog reader against a real broker (scripts/kafka-broker):
// what scale-out's checkpoints rely on (docs/scale_out.md). A committed transaction's records
// and the offsets sent with it are visible together; an aborted one's never, nor one left open;
// a second producer under the same transactional.id fences the first and aborts its open
// transaction.
#include <doctest/doctest.h>

#include <map>

#include "connectors/kafka_admin.h"
#include "connectors/kafka_partition_reader.h"
#include "connectors/kafka_source.h"
#include "connectors/kafka_transaction.h"
#include "tests/connectors/kafka_mock_util.h"
#include "tests/connectors/real_broker.h"

namespace klaxon::connectors {
namespace {

using namespace std::chrono_literals;

struct Read {
  std::map<std::string, std::string> latest;  // tombstones remove
  int64_t records = 0;
  int64_t tombstones = 0;
};

Result<Read> ReadAll(const KafkaClientOptions& client, const std::string& topic, int32_t partition,
                     std::chrono::milliseconds timeout = 30s) {
  Read read;
  Result<int64_t> n = ReadPartitions(
      client, topic, {{partition, kFromBeginning}}, timeout,
      [&](int32_t, int64_t, std::string_view key, std::optional<std::string_view> value) {
        if (value) {
          read.latest[std::string(key)] = std::string(*value);
        } else {
          ++read.tombstones;
          read.latest.erase(std::string(key));
        }
        return Status::Ok();
      });
  if (!n.ok()) return n.status();
  read.records = *n;
  return read;
}

// The committed offset of input [0], read as a restore reads it (stable).
int64_t Committed(KafkaSource& source) {
  auto offsets = source.CommittedOffsets("input", {0}, 30s);
  REQUIRE_MESSAGE(offsets.ok(), offsets.status().message());
  return offsets->at(0);
}

std::unique_ptr<KafkaTransactionalProducer> OpenTxn(const KafkaClientOptions& client,
                                                    const std::string& id) {
  TransactionalProducerOptions options{.client = client, .transactional_id = id};
  auto txn = KafkaTransactionalProducer::Open(options);
  REQUIRE_MESSAGE(txn.ok(), txn.status().message());
  return std::move(txn).value();
}

TEST_CASE(
    "Kafka transactions: state and offsets commit together, aborts and open ones stay unseen") {
  testing::RealBroker broker;
  testing::LogSink sink;
  const KafkaClientOptions client = testing::ClientOptions(broker.brokers(), sink);
  auto admin = KafkaAdmin::Open(client);
  REQUIRE(admin.ok());
  REQUIRE((*admin)
              ->EnsureTopic(
                  {.name = "state", .partitions = 2, .configs = {{"cleanup.policy", "compact"}}})
              .ok());
  REQUIRE(CreateTopic(client, "input", 1).ok());
  testing::Produce(broker.brokers(), "input", 0, 10, sink);

  // The consumer whose offsets go with the state: in its group, offsets read only when stable.
  auto options = testing::SourceOptions(broker.brokers(), "input", "g-txn", sink);
  options.auto_commit_interval_ms = 0;
  options.client.properties["isolation.level"] = "read_committed";
  auto source = testing::OpenSource(options);
  REQUIRE(testing::ConsumeN(*source, 10, /*mark=*/false).size() == 10);

  // An empty partition: read to its end at once.
  auto empty = ReadAll(client, "state", 1);
  REQUIRE_MESSAGE(empty.ok(), empty.status().message());
  CHECK(empty->records == 0);

  auto txn = OpenTxn(client, "klaxon-test-1");
  REQUIRE(txn->Begin().ok());
  REQUIRE(txn->Produce("state", 0, "a", "1").ok());
  REQUIRE(txn->Produce("state", 0, "b", "2").ok());
  REQUIRE(txn->Produce("state", 1, "c", "3").ok());
  const CommitOffset five[] = {{"input", 0, 5}};
  Status committed = txn->Commit(five, *source, 30s);
  REQUIRE_MESSAGE(committed.ok(), committed.message());
  auto read = ReadAll(client, "state", 0);
  REQUIRE_MESSAGE(read.ok(), read.status().message());
  CHECK(read->latest == std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}});
  CHECK(Committed(*source) == 5);
  // Several partitions at once, each in its own order.
  std::map<int32_t, std::string> by_partition;
  auto both = ReadPartitions(
      client, "state", {{0, kFromBeginning}, {1, kFromBeginning}}, 30s,
      [&](int32_t p, int64_t, std::string_view key, std::optional<std::string_view> value) {
        by_partition[p] += std::string(key) + "=" + std::string(*value) + ";";
        return Status::Ok();
      });
  REQUIRE_MESSAGE(both.ok(), both.status().message());
  CHECK(*both == 3);
  CHECK(by_partition == std::map<int32_t, std::string>{{0, "a=1;b=2;"}, {1, "c=3;"}});

  // Aborted: neither the record nor the offset.
  REQUIRE(txn->Begin().ok());
  REQUIRE(txn->Produce("state", 0, "a", "aborted").ok());
  REQUIRE(txn->Abort(30s).ok());
  read = ReadAll(client, "state", 0);
  REQUIRE(read.ok());
  CHECK(read->latest.at("a") == "1");
  CHECK(read->records == 2);

  // A tombstone removes a key; the offset moves on with it.
  REQUIRE(txn->Begin().ok());
  REQUIRE(txn->Produce("state", 0, "b", std::nullopt).ok());
  const CommitOffset seven[] = {{"input", 0, 7}};
  REQUIRE(txn->Commit(seven, *source, 30s).ok());
  read = ReadAll(client, "state", 0);
  REQUIRE(read.ok());
  CHECK(read->latest == std::map<std::string, std::string>{{"a", "1"}});
  CHECK(read->tombstones == 1);
  CHECK(Committed(*source) == 7);

  // Left open (an instance that stopped answering): a read_committed reader ends before it
  // (at the last stable offset) and never sees its record.
  REQUIRE(txn->Begin().ok());
  REQUIRE(txn->Produce("state", 0, "a", "open").ok());
  const CommitOffset nine[] = {{"input", 0, 9}};
  read = ReadAll(client, "state", 0, 10s);
  REQUIRE_MESSAGE(read.ok(), read.status().message());
  CHECK(read->latest == std::map<std::string, std::string>{{"a", "1"}});

  // A restart under the same transactional.id fences the process before it and aborts its open
  // transaction: the record is never seen, the fenced producer's commit fails for good.
  auto successor = OpenTxn(client, "klaxon-test-1");
  Status fenced = txn->Commit(nine, *source, 30s);
  CHECK(!fenced.ok());
  CHECK_MESSAGE(fenced.code() == StatusCode::kFailedPrecondition, fenced.message());
  read = ReadAll(client, "state", 0);
  REQUIRE_MESSAGE(read.ok(), read.status().message());
  CHECK(read->latest == std::map<std::string, std::string>{{"a", "1"}});
  CHECK(Committed(*source) == 7);

  // The successor goes on.
  REQUIRE(successor->Begin().ok());
  REQUIRE(successor->Produce("state", 0, "a", "3").ok());
  REQUIRE(successor->Commit(nine, *source, 30s).ok());
  read = ReadAll(client, "state", 0);
  REQUIRE(read.ok());
  CHECK(read->latest.at("a") == "3");
  CHECK(Committed(*source) == 9);

  // Followed as it grows (a warm standby): what is there, then what comes; the position is kept
  // across assignments, and a read from a position gives only what follows it.
  auto follower = PartitionReader::Open(client, "state", "test reader");
  REQUIRE_MESSAGE(follower.ok(), follower.status().message());
  REQUIRE((*follower)->Assign({{0, kFromBeginning}}).ok());
  std::map<std::string, std::string> followed;
  auto follow = [&](int32_t, int64_t, std::string_view key, std::optional<std::string_view> value) {
    if (value) {
      followed[std::string(key)] = std::string(*value);
    } else {
      followed.erase(std::string(key));
    }
    return Status::Ok();
  };
  for (int i = 0; i < 300 && !(*follower)->AtEnd(0); ++i) {
    REQUIRE((*follower)->Poll(100ms, 1000, follow).ok());
  }
  REQUIRE((*follower)->AtEnd(0));
  CHECK(followed == std::map<std::string, std::string>{{"a", "3"}});
  const int64_t position = (*follower)->Position(0);
  CHECK(position > 0);
  CHECK((*follower)->Lag(0) == 0);
  REQUIRE((*follower)->Assign({{0, position}, {1, kFromBeginning}}).ok());
  CHECK((*follower)->Position(0) == position);
  REQUIRE(successor->Begin().ok());
  REQUIRE(successor->Produce("state", 0, "a", "4").ok());
  const CommitOffset eleven[] = {{"input", 0, 11}};
  REQUIRE(successor->Commit(eleven, *source, 30s).ok());
  // Everything committed so far, at once: the last record is followed by its commit marker.
  auto to_end = (*follower)->ReadToEnd({0, 1}, 30s, follow);
  REQUIRE_MESSAGE(to_end.ok(), to_end.status().message());
  CHECK(followed.at("a") == "4");
  CHECK(followed.at("c") == "3");  // partition 1, from its beginning
  CHECK((*follower)->Position(0) > position);
  int64_t after = 0;
  auto tail = ReadPartitions(
      client, "state", {{0, position}}, 30s,
      [&](int32_t, int64_t, std::string_view key, std::optional<std::string_view> value) {
        CHECK(key == "a");
        CHECK(value == std::optional<std::string_view>("4"));
        ++after;
        return Status::Ok();
      });
  REQUIRE_MESSAGE(tail.ok(), tail.status().message());
  CHECK(*tail == 1);
  CHECK(after == 1);
  CHECK(source->Close().ok());
}

}  // namespace
}  // namespace klaxon::connectors

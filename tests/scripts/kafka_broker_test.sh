#!/usr/bin/env bash
# scripts/kafka-broker starts a real Apache Kafka broker that serves produce and consume, and
# stops it again without leaving its data behind. Needs Java 17, Maven and kcat: when they are
# missing the test fails rather than skips, since CI machines have them (scripts/install-deps).
set -euo pipefail

SRC="${KLAXON_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
BROKER="$SRC/scripts/kafka-broker"
export KLAXON_KAFKA_RUN
KLAXON_KAFKA_RUN="$(mktemp -d "${TMPDIR:-/tmp}/klaxon-kafka-test.XXXXXX")"

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  "$BROKER" stop || true
  rm -rf "$KLAXON_KAFKA_RUN"
}
trap cleanup EXIT

for tool in java mvn kcat python3; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (run scripts/install-deps)"
done

out="$("$BROKER" start)" || fail "kafka-broker start failed"
brokers="$(printf '%s\n' "$out" | sed -n 's/^KAFKA_BROKERS=//p')"
[ -n "$brokers" ] || fail "start printed no KAFKA_BROKERS line: $out"
[ "$("$BROKER" env)" = "KAFKA_BROKERS=$brokers" ] || fail "env does not match start"
"$BROKER" status >/dev/null || fail "status says not running"

# A second start in the same run dir reuses the running broker.
[ "$("$BROKER" start 2>/dev/null)" = "KAFKA_BROKERS=$brokers" ] || fail "second start differs"

topic="klaxon-broker-test"
printf '{"n":1}\n{"n":2}\n{"n":3}\n' | kcat -P -b "$brokers" -t "$topic" \
  || fail "kcat could not produce"
got="$(timeout 60 kcat -C -b "$brokers" -t "$topic" -o beginning -c 3 -q)" \
  || fail "kcat could not consume"
[ "$got" = $'{"n":1}\n{"n":2}\n{"n":3}' ] || fail "consumed '$got'"

# create-topic: the partitions asked for; a clear error for a topic that exists or a bad count.
"$BROKER" create-topic klaxon-eight 8 2>"$KLAXON_KAFKA_RUN/create.err" ||
  fail "create-topic failed: $(cat "$KLAXON_KAFKA_RUN/create.err")"
partitions="$(kcat -L -b "$brokers" -t klaxon-eight | grep -c 'partition [0-9]*, leader')"
[ "$partitions" = 8 ] || fail "klaxon-eight has $partitions partitions, 8 asked"
if "$BROKER" create-topic klaxon-eight 8 2>"$KLAXON_KAFKA_RUN/create.err"; then
  fail "create-topic of an existing topic succeeded"
fi
grep -q "cannot create topic klaxon-eight: .*already exists" "$KLAXON_KAFKA_RUN/create.err" ||
  fail "existing topic: $(cat "$KLAXON_KAFKA_RUN/create.err")"
for bad in "x 0" "x -1" "x many" "x"; do
  # shellcheck disable=SC2086
  if "$BROKER" create-topic $bad 2>"$KLAXON_KAFKA_RUN/create.err"; then
    fail "create-topic $bad succeeded"
  fi
  grep -q "usage: .*create-topic NAME PARTITIONS" "$KLAXON_KAFKA_RUN/create.err" ||
    fail "create-topic $bad: $(cat "$KLAXON_KAFKA_RUN/create.err")"
done

data="$(sed -n 's/^DATA=//p' "$KLAXON_KAFKA_RUN/state")"
pid="$(sed -n 's/^PID=//p' "$KLAXON_KAFKA_RUN/state")"
[ -d "$data" ] || fail "no data dir $data"
"$BROKER" stop || fail "stop failed"
if kill -0 "$pid" 2>/dev/null; then fail "broker pid $pid still alive after stop"; fi
[ ! -e "$data" ] || fail "data dir $data left behind"
if "$BROKER" status >/dev/null; then fail "status says running after stop"; fi
if "$BROKER" env 2>/dev/null; then fail "env succeeded after stop"; fi

echo "kafka_broker_test: ok"

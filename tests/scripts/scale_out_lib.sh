# Shared helpers of the scale-out failover and restore tests (sourced after lib.sh, not run):
# the outage log over 8 input partitions, instances that come and go, and the comparison of
# what the receiver got from all of them with replay.
export KLAXON_KAFKA_PARTITIONS=8

# so_want: the broker, the receiver "hook", and replay's notifications of outage.rules (groups
# spread over every input partition) and e2e/partition_keyed.rules (each group in one input
# partition). Sets rules (a YAML list's items), log, events, want (how many; their keys in
# $WORK/want, sorted) and last (the time of the last one). Writes $WORK/keyed.tsv: the log in
# time order as KEY<TAB>EVENT, the key a partition-keyed rule's events' `service` (so Kafka puts
# each of those groups in one partition) and every other event's line number (so they spread
# over every partition), and $WORK/partition.txt: the partition Kafka's producer picks for each
# line (librdkafka's consistent_random: CRC-32 of the key modulo the partition count).
so_want() {
  start_broker
  start_receiver hook
  export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  local outage="$SRC/tests/scripts/e2e/outage.rules"
  local keyed="$SRC/tests/scripts/e2e/partition_keyed.rules"
  rules="$outage, $keyed"
  log="$SRC/examples/events/outage.jsonl.gz"
  "$KLAXON_BIN" replay "$outage" "$keyed" --events "$log" --format json | replay_keys |
    sort -u >"$WORK/want"
  want=$(wc -l <"$WORK/want")
  [ "$want" -ge 15 ] || fail "replay gave only $want notifications"
  grep -q ' search-errors ' "$WORK/want" && grep -q ' token-errors ' "$WORK/want" &&
    grep -q ' orders-db-errors ' "$WORK/want" ||
    fail "replay misses a rule shape: $(cat "$WORK/want")"
  last=$(tail -1 "$WORK/want" | cut -d' ' -f1)
  events=$(zcat "$log" | wc -l)
  python3 - "$log" "$WORK/keyed.tsv" "$WORK/partition.txt" <<'PY'
import gzip, json, sys, zlib
with open(sys.argv[2], "w") as out, open(sys.argv[3], "w") as part:
    for i, line in enumerate(gzip.open(sys.argv[1], "rt")):
        e = json.loads(line)
        tags = e.get("tags") or {}
        tags = dict(tags) if isinstance(tags, list) else tags
        types = [v.get("type") for v in (e.get("exception") or {}).get("values", [])]
        service = tags.get("service")
        key = service if service == "search" or "TokenExpired" in types else str(i)
        out.write(f"{key}\t{line}")
        part.write(f"{zlib.crc32(key.encode()) % 8}\n")
PY
}

# so_topic TOPIC: an empty 8-partition topic (scale_out reads the input topics' partition counts
# at start); its one empty event counts as an input record.
so_topic() {
  echo '{}' | kcat -P -b "$BROKERS" -t "$1" -p 0 || fail "cannot create $1"
  events=$((events + 1))
}

# so_produce TOPIC FROM TO: lines FROM..TO (1-based) of keyed.tsv at once.
so_produce() {
  sed -n "$2,$3p" "$WORK/keyed.tsv" | kcat -P -b "$BROKERS" -t "$1" -K $'\t' ||
    fail "cannot produce"
}

# so_produce_live TOPIC SECONDS: the log produced live, as a steady stream over SECONDS of wall
# time (every 0.25 s the next share of lines), so that events keep coming in every partition
# while instances die and join. First, each partition's first event alone, and 3 s later the
# rest: a partition that never delivered anything is idle as soon as it is read to its end and
# holds no time back (docs/scale_out.md), so a partition still empty while the others' events
# move time on would see its first events late.
so_produce_live() {
  local topic=$1 seconds=$2
  python3 - "$WORK/keyed.tsv" "$WORK/partition.txt" "$WORK/first.tsv" "$WORK/rest.tsv" <<'PY'
import sys
lines = open(sys.argv[1]).readlines()
parts = [int(p) for p in open(sys.argv[2])]
first = {}
for i, p in enumerate(parts):
    first.setdefault(p, i)
assert len(first) == 8, f"only partitions {sorted(first)} get events"
with open(sys.argv[3], "w") as f:
    f.writelines(lines[i] for i in sorted(first.values()))
with open(sys.argv[4], "w") as r:
    skip = set(first.values())
    r.writelines(l for i, l in enumerate(lines) if i not in skip)
PY
  kcat -P -b "$BROKERS" -t "$topic" -K $'\t' -l "$WORK/first.tsv" || fail "cannot produce"
  sleep 3
  python3 - "$WORK/rest.tsv" "$seconds" <<'PY' | kcat -P -b "$BROKERS" -t "$topic" -K $'\t' ||
import sys, time
lines = open(sys.argv[1]).readlines()
ticks = int(float(sys.argv[2]) / 0.25)
start = time.monotonic()
for t in range(ticks):
    sys.stdout.writelines(lines[len(lines) * t // ticks:len(lines) * (t + 1) // ticks])
    sys.stdout.flush()
    time.sleep(max(0.0, start + 0.25 * (t + 1) - time.monotonic()))
PY
    fail "cannot produce"
}

# so_start NAME TOPIC APPLICATION_ID [STATIC]: klaxon run with scale_out, its state (the outbox)
# in the directory $WORK/NAME (a machine of its own), its log in $WORK/NAME.log (appended: a
# name started again keeps the earlier run's lines), its pid in PID_OF[NAME]. STATIC names its
# static membership (group.instance.id); without it the instance is a dynamic member. A
# partition quiet for SO_IDLE_TIMEOUT (default 30 s) counts as idle; SO_WARM_STANDBY=true gives
# every instance warm standbys, SO_EXACTLY_ONCE=true runs stage 1 in transactions.
declare -A PID_OF
so_start() {
  local name=$1 topic=$2 app=$3 static=${4:-}
  local props='session.timeout.ms: "6000"'
  [ -n "$static" ] && props="group.instance.id: $static, $props"
  mkdir -p "$WORK/$name"
  cat >"$WORK/$name.yaml" <<YAML
rules: [$rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [$topic]
  group_id: $app
  properties: {$props}
outbox: {path: $WORK/$name/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
scale_out: {enabled: true, application_id: $app, partitions: 8, warm_standby: ${SO_WARM_STANDBY:-false},
  exactly_once: ${SO_EXACTLY_ONCE:-false}}
engine: {partition_idle_timeout: ${SO_IDLE_TIMEOUT:-30s}}
YAML
  local start_line=$(($(cat "$WORK/$name.log" 2>/dev/null | wc -l) + 1))
  "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>>"$WORK/$name.log" &
  PID_OF[$name]=$!
  PIDS+=($!)
  for _ in $(seq 100); do
    tail -n +"$start_line" "$WORK/$name.log" | grep -q 'admin server listening' && break
    sleep 0.1
  done
  tail -n +"$start_line" "$WORK/$name.log" | grep -q 'admin server listening' || {
    tail "$WORK/$name.log"
    fail "$name: did not start"
  }
}

# so_assigned NAME: waits until NAME holds partitions of both stages.
so_assigned() {
  for _ in $(seq 300); do
    grep -q 'repartition partition assigned' "$WORK/$1.log" &&
      grep -q 'input partition assigned' "$WORK/$1.log" && return 0
    sleep 0.1
  done
  fail "$1: no partitions assigned"
}

# so_start_three TOPIC APPLICATION_ID: instances a, b and c (static membership, names a, b, c)
# on TOPIC, once each holds partitions of both stages and the rebalance that made room for c is
# complete on a's and b's side too.
so_start_three() {
  local name
  for name in a b c; do so_start "$name" "$1" "$2" "$name"; done
  for name in a b c; do so_assigned "$name"; done
  sleep 3
}

# so_stop NAME...: SIGTERM (a clean stop) and waits for the processes to end.
so_stop() {
  local name
  for name in "$@"; do kill -TERM "${PID_OF[$name]}"; done
  for name in "$@"; do
    while kill -0 "${PID_OF[$name]}" 2>/dev/null; do sleep 0.1; done
  done
}

# so_kill NAME: kill -9, as a crash or a lost machine.
so_kill() {
  kill -9 "${PID_OF[$1]}"
  while kill -0 "${PID_OF[$1]}" 2>/dev/null; do sleep 0.1; done
}

# so_received: the distinct notifications the receiver got, up to replay's last (after the log
# ends, every partition turns idle and event time follows the wall clock: absence would go on).
so_received() {
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u
}

# so_compare WHAT SECONDS: waits up to SECONDS for the receiver to have every notification replay
# computes, then compares the sets (a notification sent again under its key is allowed: delivery
# is at least once across a failover) and fails on one under two idempotency keys. Prints how
# many requests repeated a notification under its key.
so_compare() {
  local what=$1 deadline=$((SECONDS + $2))
  while [ "$SECONDS" -lt "$deadline" ]; do
    so_received >"$WORK/got"
    cmp -s "$WORK/want" "$WORK/got" && break
    sleep 0.2
  done
  sleep 2 # anything extra would arrive now
  so_received >"$WORK/got"
  if ! diff "$WORK/want" "$WORK/got" >"$WORK/diff"; then
    echo "$what: < replay only, > received only:"
    cat "$WORK/diff"
    return 1
  fi
  single_keys "$WORK/hook.jsonl" || fail "$what: a notification under several keys"
  local repeats
  repeats=$(python3 - "$WORK/hook.jsonl" <<'PY'
import json, sys
seen, repeats = set(), 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = (r["headers"]["webhook-id"], json.dumps(r["body"], sort_keys=True))
    repeats += key in seen
    seen.add(key)
print(repeats)
PY
)
  echo "  $what: $want notifications equal to replay's, each under one key;" \
    "$repeats sent again under their key"
}

# so_totals NAME [DUPLICATES_OK]: NAME's `scale-out totals` line (logged at a clean stop): nothing
# evaluated late, no invalid repartition message, some work done; no re-sent record unless
# DUPLICATES_OK. Adds its input records to TOTAL_READ.
TOTAL_READ=0
so_totals() {
  local name=$1 duplicates_ok=${2:-} line
  line=$(grep 'msg="scale-out totals"' "$WORK/$name.log" | tail -1)
  [ -n "$line" ] || fail "$name: no totals"
  echo "  $name: ${line#*msg=\"scale-out totals\" }"
  grep -q ' late=0 ' <<<"$line" || fail "$name: events evaluated late"
  grep -q ' invalid=0 ' <<<"$line" || fail "$name: invalid repartition messages"
  [ -n "$duplicates_ok" ] || grep -q ' duplicates=0 ' <<<"$line" || fail "$name: re-sent records"
  grep -q ' evaluated=0 ' <<<"$line" && fail "$name: evaluated nothing (the work was not split)"
  TOTAL_READ=$((TOTAL_READ + $(sed -n 's/.* input_records=\([0-9]*\) .*/\1/p' <<<"$line")))
}

# so_metric NAME METRIC: a metric's value on NAME's admin server, as an integer (empty when NAME
# does not have it); METRIC with its labels as /metrics writes them, e.g. 'x{result="y"}'.
so_metric() {
  local port
  port=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/$1.log" |
    tail -1)
  curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$2" '$1 == m { printf "%d\n", $2 }'
}

# so_total NAME FIELD: FIELD of NAME's last `scale-out totals` line (0 when missing).
so_total() {
  grep 'msg="scale-out totals"' "$WORK/$1.log" | tail -1 |
    sed -n "s/.* $2=\([0-9]*\).*/\1/p" | awk '{ print $1 + 0 } END { if (NR == 0) print 0 }'
}

# so_committed GROUP: the sum of GROUP's committed offsets, read with Kafka's Admin API (without
# joining the group).
so_committed() {
  local libs="${KLAXON_KAFKA_CACHE:-$HOME/.cache/klaxon/kafka-${KLAXON_KAFKA_VERSION:-4.1.1}}/libs"
  java -cp "$libs/*" "$SRC/tests/scripts/committed_offsets.java" "$BROKERS" "$1" 2>/dev/null |
    awk '{ sum += $3 } END { print sum + 0 }'
}

# so_wait_committed GROUP MIN SECONDS: waits up to SECONDS until GROUP's committed offsets sum to
# MIN or more; prints the last sum.
so_wait_committed() {
  local sum deadline=$((SECONDS + $3))
  while sum=$(so_committed "$1") && [ "$sum" -lt "$2" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.5
  done
  echo "$sum"
}

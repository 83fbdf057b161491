#!/usr/bin/env bash
# klaxon run on 8-partition topics equals klaxon replay of the same log: event time is kept per
# partition, so a backlog fetched one partition-sized chunk at a time makes nothing late.
# Scenarios, each against a fresh topic and consumer group:
#   keyed     backlog keyed by the `service` tag (as producers key by project): some partitions
#             stay empty, so idle partitions must stop holding time back
#   unkeyed   backlog spread over every partition, one of them sparse, with a small alignment
#             bound so the partition running ahead is paused and resumed
#   ends      backlog with partition 0 holding the first 40 % of the log and the others the
#             rest, and a 10-minute partition_idle_timeout: partition 0 is read to its end while
#             the others (paused, far ahead) still have their backlog, so it must stop holding
#             time back at once; waiting out the timeout there would hold back everything after
#             40 % of the log for 10 minutes
#   live      produced in chunks while the service runs, with a consumer joining and leaving
#             the group mid-stream (every partition revoked and assigned again), and the
#             small alignment bound, so partitions are revoked while paused
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=8
start_broker
outage_want
events=$(zcat "$log" | wc -l)

# key<TAB>event lines, keyed by the service tag (tags are an object or a list of pairs).
python3 - "$log" "$WORK/keyed.tsv" <<'PY'
import gzip, json, sys
with open(sys.argv[2], "w") as out:
    for line in gzip.open(sys.argv[1], "rt"):
        tags = json.loads(line)["tags"]
        tags = dict(tags) if isinstance(tags, list) else tags
        out.write(tags["service"] + "\t" + line)
PY

# run_service NAME TOPIC [extra YAML lines...]: starts klaxon run; sets PID and ADMIN.
run_service() {
  local name=$1 topic=$2
  shift 2
  {
    cat <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [$topic], group_id: klaxon-$name}
outbox: {path: $WORK/$name.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
    printf '%s\n' "$@"
  } >"$WORK/$name.yaml"
  : >"$WORK/hook.jsonl"
  "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
  PID=$!
  PIDS+=($PID)
  ADMIN=""
  for _ in $(seq 100); do
    ADMIN=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/$name.log" 2>/dev/null || true)
    [ -n "$ADMIN" ] && break
    sleep 0.1
  done
  [ -n "$ADMIN" ] || fail "$name: no admin port in the log"
}

# check_service NAME [PATTERN]: waits for replay's notifications (and for /metrics to match
# PATTERN), compares, and stops the service.
check_service() {
  local name=$1 pattern=${2:-}
  for _ in $(seq 1200); do
    received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
    cmp -s "$WORK/want" "$WORK/got" && break
    sleep 0.1
  done
  sleep 1  # anything extra would arrive now
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
  # Every event read (the last notification comes before the log's end) and, when asked for,
  # the pattern.
  METRICS=$(curl -s "http://127.0.0.1:$ADMIN/metrics")
  for _ in $(seq 600); do
    if grep -q "^klaxon_events_received_total $events\$" <<<"$METRICS" &&
      { [ -z "$pattern" ] || grep -q "$pattern" <<<"$METRICS"; }; then
      break
    fi
    sleep 0.1
    METRICS=$(curl -s "http://127.0.0.1:$ADMIN/metrics")
  done
  if ! diff "$WORK/want" "$WORK/got" >"$WORK/$name.diff"; then
    cat "$WORK/$name.diff"
    grep -E '^klaxon_(events|kafka|partition)' <<<"$METRICS" || true
    tail -20 "$WORK/$name.log"
    fail "$name: service and replay disagree"
  fi
  grep -q "^klaxon_events_received_total $events\$" <<<"$METRICS" ||
    fail "$name: $(grep '^klaxon_events_received_total' <<<"$METRICS") of $events events"
  grep -q '^klaxon_events_late_total 0$' <<<"$METRICS" ||
    fail "$name: $(grep '^klaxon_events_late_total' <<<"$METRICS")"
  single_keys "$WORK/hook.jsonl" || fail "$name: a notification under several keys"
  kill -TERM "$PID"
  wait "$PID" || fail "$name: klaxon run exited with $?"
}

# keyed: the whole log is there before the service starts.
kcat -P -b "$BROKERS" -t keyed -K $'\t' -l "$WORK/keyed.tsv" || fail "cannot produce"
# ends (below): the first 40 % of the log in partition 0, the rest spread over the others.
python3 - "$log" "$WORK" <<'PY'
import gzip, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
cut = len(lines) * 4 // 10
parts = [lines[:cut]] + [lines[cut + p::7] for p in range(7)]
for p, chunk in enumerate(parts):
    open(f"{sys.argv[2]}/ends{p}.jsonl", "w").writelines(chunk)
PY
for p in 0 1 2 3 4 5 6 7; do
  kcat -P -b "$BROKERS" -t ends -p "$p" -l "$WORK/ends$p.jsonl" || fail "cannot produce"
done
run_service keyed keyed
check_service keyed
idle=$(grep -c '^klaxon_partition_idle{topic="keyed",partition="[0-7]"} 1$' <<<"$METRICS" || true)
[ "$idle" -ge 1 ] || fail "keyed: no partition reported idle"
used=$(grep -c '^klaxon_partition_event_time_seconds{topic="keyed"' <<<"$METRICS" || true)
[ "$used" -ge 2 ] && [ "$used" -lt 8 ] || fail "keyed: $used partitions with events, want 2-7"
echo "$(date +%T) keyed backlog: ok ($used partitions with events, $idle idle at the end)"

# unkeyed: every partition has events, partition 0 a sparse tenth of them, so one fetch of it
# covers far more event time than one of the others: alignment must pause it.
python3 - "$log" "$WORK" <<'PY'
import gzip, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
parts = [[] for _ in range(8)]
for i, line in enumerate(lines):
    parts[0 if i % 10 == 0 else 1 + i % 7].append(line)
for p, chunk in enumerate(parts):
    open(f"{sys.argv[2]}/spread{p}.jsonl", "w").writelines(chunk)
PY
for p in 0 1 2 3 4 5 6 7; do
  kcat -P -b "$BROKERS" -t unkeyed -p "$p" -l "$WORK/spread$p.jsonl" || fail "cannot produce"
done
run_service unkeyed unkeyed "engine: {max_partition_skew: 1s}"
# Once the others are idle, the paused partition is the slowest left and is resumed.
check_service unkeyed '^klaxon_kafka_partitions_paused 0$'
pauses=$(sed -n 's/^klaxon_kafka_partition_pauses_total \([0-9]*\)$/\1/p' <<<"$METRICS")
[ "${pauses:-0}" -gt 0 ] || fail "unkeyed: alignment never paused a partition"
grep -q '^klaxon_kafka_partitions_paused 0$' <<<"$METRICS" || fail "unkeyed: partitions left paused"
echo "$(date +%T) unkeyed backlog with alignment: ok ($pauses pauses)"

# ends: produced at the start (records written seconds before they are read, as a backlog is).
run_service ends ends "engine: {max_partition_skew: 1s, partition_idle_timeout: 10m}"
check_service ends
pauses=$(sed -n 's/^klaxon_kafka_partition_pauses_total \([0-9]*\)$/\1/p' <<<"$METRICS")
[ "${pauses:-0}" -gt 0 ] || fail "ends: alignment never paused a partition"
grep -q '^klaxon_partition_idle{topic="ends",partition="0"} 1$' <<<"$METRICS" || {
  grep '^klaxon_partition_' <<<"$METRICS"
  fail "ends: partition 0 still holds time back after its end"
}
echo "$(date +%T) a partition's end during a backlog elsewhere: ok ($pauses pauses)"

# live: the log arrives in six chunks, the first before the service starts (it creates the
# topic), the others while it runs; a second member joins the group (on another topic, so it
# takes no events) and leaves again.
split -n l/6 "$WORK/keyed.tsv" "$WORK/chunk."
n=0
for chunk in "$WORK"/chunk.*; do
  kcat -P -b "$BROKERS" -t live -K $'\t' -l "$chunk" || fail "cannot produce"
  n=$((n + 1))
  if [ "$n" = 1 ]; then
    run_service live live "engine: {max_partition_skew: 1s}"
    wait_http "http://127.0.0.1:$ADMIN/-/ready" 60 || fail "live: not ready"
  fi
  if [ "$n" = 2 ]; then
    echo '{}' | kcat -P -b "$BROKERS" -t other || fail "cannot produce"
    timeout 8 kcat -b "$BROKERS" -G klaxon-live -q other >"$WORK/other.out" 2>&1 &
    PIDS+=($!)
  fi
  sleep 1.5
done
wait_lines "$WORK/hook.jsonl" 1 10 || true
check_service live
rebalances=$(grep -c 'assigned [0-9]* partition' "$WORK/live.log" || true)
[ "$rebalances" -ge 2 ] || {
  grep -i 'assign\|revok\|rebalanc' "$WORK/live.log" | head
  cat "$WORK/other.out"
  fail "live: partitions were assigned only $rebalances time(s)"
}
pauses=$(sed -n 's/^klaxon_kafka_partition_pauses_total \([0-9]*\)$/\1/p' <<<"$METRICS")
echo "$(date +%T) live with rebalances: ok ($rebalances assignments, ${pauses:-0} pauses)"
echo "service on 8 partitions: ok ($want notifications in each scenario)"

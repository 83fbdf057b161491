#!/usr/bin/env bash
# scale_out (docs/scale_out.md): klaxon run routes every (rule, group) through the repartition
# topic to the instance that owns it, so instances sharing one consumer group notify exactly
# what klaxon replay computes. The outage log is spread over every partition of an 8-partition
# topic, so every group (`group by environment` above all) has events in every input partition.
#   one   one instance with scale_out on, the log there before it starts (a backlog)
#   two   two instances in one group with stable membership (group.instance.id), both
#         assigned before the log is produced: each evaluates a share of the repartition
#         partitions, and the receiver gets replay's notifications, each once, under one key
# Without scale_out, two such instances each count the events of their own input partitions
# only and disagree with replay (issue 14).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=8
start_broker
outage_want
events=$(zcat "$log" | wc -l)

# The log in time order, each line keyed by its number: the keys spread it over every partition,
# and a live producer fills them all at once (partition by partition, the first one's 90
# minutes would come while the others, caught up, let time pass them).
python3 - "$log" "$WORK/keyed.tsv" <<'PY'
import gzip, sys
with open(sys.argv[2], "w") as out:
    for i, line in enumerate(gzip.open(sys.argv[1], "rt")):
        out.write(f"{i}\t{line}")
PY
produce() {  # produce TOPIC: the log, spread over its 8 partitions
  kcat -P -b "$BROKERS" -t "$1" -K $'\t' -l "$WORK/keyed.tsv" || fail "cannot produce"
}
# produce_live TOPIC: the log's first 8 events (3 s of event time) one to each partition, and
# 3 s later the rest. A partition that never delivered anything is idle as soon as it is read to
# its end and holds no time back (as in the single stage), so a log that starts while every
# partition is empty would let the partitions one instance reads first run ahead of those the
# other reads (docs/scale_out.md). The instances wait 30 s (engine.partition_idle_timeout)
# before a partition that did deliver counts as idle, so the pause does not let time pass.
produce_live() {
  for p in 0 1 2 3 4 5 6 7; do
    sed -n "$((p + 1))p" "$WORK/keyed.tsv" | cut -f2- | kcat -P -b "$BROKERS" -t "$1" -p "$p" ||
      fail "cannot produce"
  done
  sleep 3
  tail -n +9 "$WORK/keyed.tsv" | kcat -P -b "$BROKERS" -t "$1" -K $'\t' || fail "cannot produce"
}
# An empty 8-partition topic (scale_out reads the input topics' partition counts at start).
create_topic() {
  echo 'first|{}' | kcat -P -b "$BROKERS" -t "$1" -p 0 -K '|' || fail "cannot create $1"
}

# start NAME TOPIC APPLICATION_ID: klaxon run with scale_out (its pid in PID_OF[NAME]).
declare -A PID_OF
start() {
  local name=$1 topic=$2 app=$3
  cat >"$WORK/$name.yaml" <<YAML
rules: [$rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [$topic]
  group_id: $app
  properties: {group.instance.id: $name, session.timeout.ms: "6000"}
  dead_letter_topic: dead-$app
outbox: {path: $WORK/$name.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
scale_out: {enabled: true, application_id: $app, partitions: 8}
engine: {partition_idle_timeout: ${IDLE_TIMEOUT:-30s}}
YAML
  "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>"$WORK/$name.log" &
  PID_OF[$name]=$!
  PIDS+=($!)
  [ -n "$(admin_port "$WORK/$name.log")" ] || {
    tail "$WORK/$name.log"
    fail "$name: did not start"
  }
}

# check NAME...: waits for replay's notifications, compares, stops the instances and checks
# their totals (every event read, none late, every record evaluated by some instance).
check() {
  for _ in $(seq 1800); do
    received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
    cmp -s "$WORK/want" "$WORK/got" && break
    sleep 0.1
  done
  sleep 2  # anything extra would arrive now
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
  # Stage 2's rules in the instances' klaxon_rule_* metrics: the notifications they counted are
  # the ones received.
  # The engine-level figures are the stages': every event read by some instance's stage 1, and
  # each instance's watermark is its tasks' lowest.
  local counted=0 received=0 name port
  for name in "$@"; do
    port=$(admin_port "$WORK/$name.log")
    curl -s "http://127.0.0.1:$port/metrics" >"$WORK/$name.metrics"
    counted=$((counted + $(awk '$1 ~ /^klaxon_rule_notifications_total[{]/ { n += $2 }
      END { printf "%d\n", n }' "$WORK/$name.metrics")))
    received=$((received + $(awk '$1 == "klaxon_events_received_total" { printf "%d\n", $2 }' \
      "$WORK/$name.metrics")))
    grep -q '^klaxon_event_time_watermark_seconds 1' "$WORK/$name.metrics" ||
      fail "$name: no event-time watermark on /metrics"
  done
  [ "$counted" = "$(wc -l <"$WORK/hook.jsonl")" ] ||
    fail "$*: klaxon_rule_notifications_total sums to $counted, $(wc -l <"$WORK/hook.jsonl") received"
  [ "$received" -ge "$events" ] ||
    fail "$*: klaxon_events_received_total sums to $received of $events events"
  local pids=()
  for name in "$@"; do pids+=("${PID_OF[$name]}"); done
  for pid in "${pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  done
  if ! diff "$WORK/want" "$WORK/got" >"$WORK/diff"; then
    cat "$WORK/diff"
    for name in "$@"; do grep -E 'scale-out|revoked|error' "$WORK/$name.log" | tail -5; done
    fail "$*: scale-out and replay disagree"
  fi
  single_keys "$WORK/hook.jsonl" || fail "$*: a notification under several keys"
  local read=0 line
  for name in "$@"; do
    line=$(grep 'msg="scale-out totals"' "$WORK/$name.log") || fail "$name: no totals"
    echo "  $name: ${line#*msg=\"scale-out totals\" }"
    grep -q ' late=0 ' <<<"$line" || fail "$name: events evaluated late"
    grep -q ' duplicates=0 ' <<<"$line" || fail "$name: re-sent records"
    grep -q ' invalid=0 ' <<<"$line" || fail "$name: invalid repartition messages"
    grep -q ' evaluated=0 ' <<<"$line" && fail "$name: evaluated nothing (the work was not split)"
    read=$((read + $(sed -n 's/.* input_records=\([0-9]*\) .*/\1/p' <<<"$line")))
  done
  [ "$read" -ge "$events" ] || fail "$*: $read of $events input records read"
}

# A missing input topic stops the start (exit 2), naming it, before any internal topic exists.
cat >"$WORK/missing.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [no-such-topic], group_id: klaxon-missing}
outbox: {path: $WORK/missing.db}
admin: {listen: "127.0.0.1:0"}
scale_out: {enabled: true}
YAML
status=0
"$KLAXON_BIN" run --config "$WORK/missing.yaml" 2>"$WORK/missing.log" || status=$?
[ "$status" = 2 ] || fail "missing input topic: exit $status, not 2"
grep -q 'the partitions of input topic no-such-topic (create it before starting)' \
  "$WORK/missing.log" || fail "missing input topic: $(tail -2 "$WORK/missing.log")"
kcat -L -b "$BROKERS" | grep -q 'klaxon-missing-' &&
  fail "missing input topic: internal topics were created: $(kcat -L -b "$BROKERS" | grep klaxon-missing)"

# one: a single instance, the log already there.
produce one
start one one klaxon-one
# Its tasks are restored (from an empty changelog) and checkpointed, and /metrics says so.
port=$(admin_port "$WORK/one.log")
for _ in $(seq 300); do
  curl -s "http://127.0.0.1:$port/metrics" >"$WORK/metrics" || true
  grep -q '^klaxon_scale_out_tasks{state="active"} 8$' "$WORK/metrics" &&
    ! grep -q '^klaxon_scale_out_checkpoints_total 0$' "$WORK/metrics" &&
    grep -q '^klaxon_scale_out_task_watermark_seconds{' "$WORK/metrics" && break
  sleep 0.1
done
grep -q '^klaxon_scale_out_tasks{state="active"} 8$' "$WORK/metrics" ||
  fail "one: /metrics shows no 8 active tasks: $(grep scale_out_tasks "$WORK/metrics")"
grep -q '^klaxon_scale_out_checkpoints_total 0$' "$WORK/metrics" && fail "one: no checkpoint"
grep -q '^klaxon_scale_out_task_watermark_seconds{' "$WORK/metrics" ||
  fail "one: no task watermark"
curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null || fail "one: not ready with its tasks restored"
check one
echo "$(date +%T) one instance with scale_out: ok"
one_bytes=$(grep -h 'msg="scale-out totals"' "$WORK/one.log" |
  sed -n 's/.* routed=\([0-9]*\) routed_bytes=\([0-9]*\) routed_events=\([0-9]*\) .*/\1 \2 \3/p')

# ids: the rules' notifications read only the event id (a log action, templates without
# event fields), so stage 1 sends the owner no event JSON, only the one-shot rule's; the
# notifications are still replay's, and each firing line names an event of the log (but
# the absence's).
sed -e 's/^action hook = .*/&\naction audit = log(path: "'"${WORK//\//\\/}"'\/audit.jsonl")/' \
  -e '/^rule new-release-crash/,/^}/!s/then hook/then audit/' "$rules" >"$WORK/audit.rules"
grep -c 'then audit' "$WORK/audit.rules" | grep -qx 4 || fail "ids: the audit rules were not made"
"$KLAXON_BIN" replay "$WORK/audit.rules" --events "$log" --format json |
  grep -v '"new-release-crash"' | replay_keys | sort >"$WORK/want.audit"
saved_rules=$rules
rules="$WORK/audit.rules"
start ids one klaxon-ids
rules=$saved_rules
for _ in $(seq 1800); do
  [ -f "$WORK/audit.jsonl" ] && replay_keys <"$WORK/audit.jsonl" | sort >"$WORK/got.audit" &&
    cmp -s "$WORK/want.audit" "$WORK/got.audit" && break
  sleep 0.1
done
diff "$WORK/want.audit" "$WORK/got.audit" || fail "ids: scale-out without the event and replay disagree"
python3 - "$WORK/audit.jsonl" "$log" <<'PY' || fail "ids: a firing line without an event of the log"
import gzip, json, sys
ids = {json.loads(l).get("event_id") for l in gzip.open(sys.argv[2], "rt")}
# checkout-silent fires on an absence: no event triggered it.
firing = [n for n in map(json.loads, open(sys.argv[1]))
          if n["state"] == "firing" and n["rule"] != "checkout-silent"]
assert firing, "no firing line"
for n in firing:
    assert n.get("event_id") in ids, n
PY
kill -TERM "${PID_OF[ids]}"
wait "${PID_OF[ids]}" || fail "ids: exited with $?"
ids_bytes=$(grep -h 'msg="scale-out totals"' "$WORK/ids.log" |
  sed -n 's/.* routed=\([0-9]*\) routed_bytes=\([0-9]*\) routed_events=\([0-9]*\) .*/\1 \2 \3/p')
read -r one_routed one_total one_events <<<"$one_bytes"
read -r ids_routed ids_total ids_events <<<"$ids_bytes"
[ "$one_events" = "$one_routed" ] || fail "one: $one_events of $one_routed records carried the event"
[ "$ids_events" -gt 0 ] && [ "$ids_events" -lt $((ids_routed / 10)) ] ||
  fail "ids: $ids_events of $ids_routed records carried the event"
[ $((ids_total / ids_routed * 4)) -lt $((one_total / one_routed)) ] ||
  fail "ids: $((ids_total / ids_routed)) bytes per record, with every event $((one_total / one_routed))"
echo "$(date +%T) records without the event: ok ($((ids_total / ids_routed)) bytes per record," \
  "$((one_total / one_routed)) with the event)"

# alerts: stage 2's alerts are the instance's. The log up to 01:00, when payments-timeouts has
# been firing since 00:52 (replay); every partition delivers up to about then, so the tasks'
# watermark gets there, and the alert stays firing until the partitions count as idle (here
# after 5 minutes: the checks are done long before, however slow the machine).
python3 -c '
import datetime, json, sys
for line in open(sys.argv[1]):
    t = json.loads(line.split("\t", 1)[1]).get("timestamp")
    if isinstance(t, str):
        t = datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    if isinstance(t, (int, float)) and t < 1764032400:
        sys.stdout.write(line)' "$WORK/keyed.tsv" >"$WORK/alerts.tsv"
kcat -P -b "$BROKERS" -t alerts -K $'\t' -l "$WORK/alerts.tsv" || fail "cannot produce"
IDLE_TIMEOUT=300s start al alerts klaxon-alerts
port=$(admin_port "$WORK/al.log")
wait_body "http://127.0.0.1:$port/api/v1/alerts" 25 '"rule":"payments-timeouts","state":"firing"' \
  "$WORK/alerts.json" ||
  fail "al: /api/v1/alerts does not list payments-timeouts firing: $(head -c 400 "$WORK/alerts.json")"
wait_body "http://127.0.0.1:$port/metrics" 10 '^klaxon_rule_firing_alerts[{]rule="payments-timeouts"[}] 1' \
  "$WORK/al.metrics" ||
  fail "al: klaxon_rule_firing_alerts does not count payments-timeouts"
kill -TERM "${PID_OF[al]}"
wait "${PID_OF[al]}" || fail "al: exited with $?"
echo "$(date +%T) stage 2's alerts in /api/v1/alerts and klaxon_rule_firing_alerts: ok"

# two: both instances in the group before the log comes.
: >"$WORK/hook.jsonl"
create_topic two
start a two klaxon-two
start b two klaxon-two
for _ in $(seq 300); do
  grep -q 'repartition partition assigned' "$WORK/b.log" &&
    grep -q 'input partition assigned' "$WORK/b.log" && break
  sleep 0.1
done
grep -q 'repartition partition assigned' "$WORK/b.log" || fail "b: no repartition partition"
sleep 3 # the rebalance that made room for b is complete on a's side too
produce_live two
events=$((events + 1)) # the empty event that created the topic
check a b
echo "$(date +%T) two instances in one group with scale_out: ok"
# The empty event that created the topic was rejected by stage 1 and dead-lettered, with its
# key, reason and source in headers.
kcat -C -b "$BROKERS" -t dead-klaxon-two -e -q -f '%k %s %h\n' >"$WORK/dead.txt" ||
  fail "cannot read the dead-letter topic"
grep -q '^first {} .*klaxon-reason=missing_timestamp.*klaxon-source-topic=two' "$WORK/dead.txt" ||
  fail "two: no dead letter for the rejected event: $(head -3 "$WORK/dead.txt")"
[ "$(wc -l <"$WORK/dead.txt")" = 1 ] || fail "two: $(wc -l <"$WORK/dead.txt") dead letters, 1 expected"
grep -q ' dead_lettered=1 ' <<<"$(grep -h 'msg="scale-out totals"' "$WORK/a.log" "$WORK/b.log")" ||
  fail "two: no instance counted the dead letter"
echo "scale_out: ok ($want notifications in each scenario, equal to replay)"

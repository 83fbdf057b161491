#!/usr/bin/env bash
# A restart without static membership after kill -9: the killed member keeps the partitions
# until its session times out, and the new run, with nothing to read, says so once
# ("waiting for the consumer group to assign partitions", naming session.timeout.ms), then
# once more when the partitions arrive. With dead_letter_topic and group.instance.id set, the
# dead-letter producer gives no warning about the consumer's properties.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
printf '{"timestamp": %s}\n' "$(date +%s)" | kcat -P -b "$BROKERS" -t events ||
  fail "cannot produce"
printf 'action out = log(path: "%s/notes.jsonl")\nrule errors {\n  when frequency > 1000/min\n  then out\n}\n' \
  "$WORK" >"$WORK/r.rules"
# start_run NAME PROPERTIES: a run in group klaxon-wait; its log is $WORK/NAME.log.
start_run() {
  cat >"$WORK/$1.yaml" <<YAML
rules: [$WORK/r.rules]
kafka:
  brokers: $BROKERS
  topics: [events]
  group_id: klaxon-wait
  dead_letter_topic: dead
  properties: {session.timeout.ms: "12000", heartbeat.interval.ms: "1000"$2}
outbox: {path: $WORK/$1.db}
admin: {listen: "127.0.0.1:0"}
YAML
  "$KLAXON_BIN" run --config "$WORK/$1.yaml" 2>"$WORK/$1.log" &
  RUN_PID=$!
  PIDS+=($RUN_PID)
}
# wait_log NAME PATTERN SECONDS
wait_log() {
  for _ in $(seq $(($3 * 10))); do grep -q "$2" "$WORK/$1.log" && return 0; sleep 0.1; done
  return 1
}

start_run first ', group.instance.id: klaxon-first'
wait_log first 'assigned 1 partition' 30 || fail "first run: no partitions: $(tail "$WORK/first.log")"
! grep -q 'consumer property' "$WORK/first.log" || fail "producer warns: $(grep 'consumer property' "$WORK/first.log")"
kill -9 "$RUN_PID"

# Another member name: the killed one holds the partition until its session (12 s) times out.
start_run second ', group.instance.id: klaxon-second'
wait_log second 'msg="waiting for the consumer group to assign partitions"' 10 ||
  fail "no waiting line: $(tail "$WORK/second.log")"
grep 'waiting for the consumer group' "$WORK/second.log" | grep -q 'session.timeout.ms, 12s' ||
  fail "the reason does not name the session timeout: $(grep waiting "$WORK/second.log")"
wait_log second 'msg="partitions assigned after waiting"' 40 ||
  fail "no line when partitions arrived: $(tail "$WORK/second.log")"
[ "$(grep -c 'waiting for the consumer group' "$WORK/second.log")" = 1 ] || fail "told more than once"
kill -TERM "$RUN_PID"
wait "$RUN_PID" || fail "second run exited with $?"
echo "assignment wait: ok"

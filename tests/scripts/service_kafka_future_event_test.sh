#!/usr/bin/env bash
# One event stamped 20 minutes ahead of the clock (within engine.future_limit) in one partition
# of a live 3-partition topic: its partition is read on (not paused until the clock catches up),
# no real event turns late, and the partition's per-minute rule fires for the real events
# after it, as it does without the stray event.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=3
start_broker
cat >"$WORK/r.rules" <<RULES
action out = log(path: "$WORK/notes.jsonl")
rule busy {
  when frequency > 8 in 10s
  group by service
  then out
}
RULES
cat >"$WORK/k.yaml" <<YAML
rules: [$WORK/r.rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [live], group_id: klaxon-live}
engine: {allowed_lateness: 2s}
outbox: {path: $WORK/outbox.db}
admin: {listen: "127.0.0.1:0"}
YAML
"$KLAXON_BIN" run --config "$WORK/k.yaml" 2>"$WORK/run.log" &
PIDS+=($!)
port=$(admin_port "$WORK/run.log")
[ -n "$port" ] || fail "no admin port"
metric() { curl -s "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 \([0-9.e+-]*\)$/\1/p"; }

# 24 s of live events: services s0, s1, s2 in partitions 0, 1, 2, two a second each; the stray
# event goes to partition 2 after 4 s; s2 alone turns busy (four a second) after 12 s.
for second in $(seq 0 23); do
  now=$(date +%s.%N)
  for s in 0 1 2; do
    n=2
    [ "$s" = 2 ] && [ "$second" -ge 12 ] && n=5
    for _ in $(seq $n); do
      printf '{"timestamp": %s, "message": "x", "tags": {"service": "s%s"}}\n' "$now" "$s" |
        kcat -P -b "$BROKERS" -t live -p "$s"
    done
  done
  if [ "$second" = 4 ]; then
    printf '{"timestamp": %s, "message": "stray", "tags": {"service": "s2"}}\n' \
      "$(( ${now%.*} + 1200 ))" | kcat -P -b "$BROKERS" -t live -p 2
  fi
  sleep "$(python3 -c "import time; print(max(0, $now + 1 - time.time()))")"
done
sleep 4
pauses=$(metric klaxon_kafka_partition_pauses_total)
late=$(metric klaxon_events_late_total)
held=$(metric klaxon_events_held)
grep -q '"busy"' "$WORK/notes.jsonl" 2>/dev/null || fail "s2 turned busy and nothing fired (pauses ${pauses:-?}, late ${late:-?})"
grep '"busy"' "$WORK/notes.jsonl" | grep -q '"s2"' || fail "the busy notification is not s2's: $(cat "$WORK/notes.jsonl")"
[ "${pauses:-x}" = 0 ] || fail "a partition was paused $pauses time(s)"
[ "${late:-x}" = 0 ] || fail "$late event(s) late"
[ "${held%.*}" -ge 1 ] || fail "the stray event is not held for its time (held ${held:-?})"
grep -q 'events ahead of the clock' "$WORK/run.log" || fail "the stray event was not logged"
echo "future event in a live partition: ok (0 pauses, 0 late, $held held)"

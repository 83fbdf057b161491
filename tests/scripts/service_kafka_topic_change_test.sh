#!/usr/bin/env bash
# A topic removed from `kafka.topics` holds nothing back after the restart: `klaxon run` reads
# topic `before`, is stopped with SIGTERM, and starts again on topic `after` only. The
# checkpoint still names `before`'s partition with its (hour-old) event time; it is not
# subscribed any more, so it must not hold event time back for the unassigned hold (the
# session timeout plus 10 s), nor make alignment pause `after`'s partition: `after`'s events
# notify within seconds, as on a fresh start.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
cat >"$WORK/r.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"))
rule fatal {
  when level:fatal
  then hook
}
RULES
config() {  # config TOPIC
  cat >"$WORK/k.yaml" <<YAML
rules: [$WORK/r.rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [$1], group_id: klaxon-topic-change}
engine: {allowed_lateness: 1s}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
}
export HOOK_URL="$RECEIVER_URL"

hour_ago=$(($(date +%s) - 3600))
printf '{"timestamp": %s, "level": "fatal", "message": "before"}\n' "$hour_ago" |
  kcat -P -b "$BROKERS" -t before || fail "cannot produce"
config before
"$KLAXON_BIN" run --config "$WORK/k.yaml" 2>"$WORK/run1.log" &
pid=$!
PIDS+=($pid)
wait_lines "$WORK/hook.jsonl" 1 60 || fail "the first run did not notify: $(tail -5 "$WORK/run1.log")"
kill -TERM "$pid"
wait "$pid" || fail "the first run exited with $?"

printf '{"timestamp": %s, "level": "fatal", "message": "after"}\n' "$(date +%s)" |
  kcat -P -b "$BROKERS" -t after || fail "cannot produce"
config after
start=$(date +%s)
"$KLAXON_BIN" run --config "$WORK/k.yaml" 2>"$WORK/run2.log" &
PIDS+=($!)
wait_lines "$WORK/hook.jsonl" 2 20 ||
  fail "no notification from topic after 20 s (the hold of an unsubscribed partition is 55 s): $(grep -v level=debug "$WORK/run2.log" | tail -5)"
took=$(($(date +%s) - start))
grep -q 'msg="state restored"' "$WORK/run2.log" || fail "the restart restored no checkpoint"
grep -q '"message":"after"\|after' "$WORK/hook.jsonl" || fail "the second notification is not topic after's"
echo "topic after notified $took s after the restart: ok"

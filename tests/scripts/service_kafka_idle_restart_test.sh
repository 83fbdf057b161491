#!/usr/bin/env bash
# A restart during quiet time goes on from where the quiet time stood: checkout sends three
# events and then nothing; `klaxon run` is stopped with SIGTERM 18 s into the quiet and started
# again at once. The flatline of a 30 s window is due 30 s after the last event: about 12 s after
# the restart, as if the process had run through, not 30 s after it (which a restart that
# started quiet time again from the newest event did), and once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
cat >"$WORK/r.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"))
rule checkout-silent {
  when frequency < 1 in 30s for service:checkout
  then hook
}
RULES
cat >"$WORK/k.yaml" <<YAML
rules: [$WORK/r.rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [quiet], group_id: klaxon-quiet}
engine: {allowed_lateness: 1s}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
export HOOK_URL="$RECEIVER_URL"

t0=$(date +%s)
for i in 1 2 3; do
  printf '{"timestamp": %s, "message": "paid", "tags": {"service": "checkout"}}\n' "$t0"
done | kcat -P -b "$BROKERS" -t quiet || fail "cannot produce"
"$KLAXON_BIN" run --config "$WORK/k.yaml" 2>"$WORK/run1.log" &
pid=$!
PIDS+=($pid)
sleep $((t0 + 18 - $(date +%s)))
[ "$(wc -l <"$WORK/hook.jsonl")" = 0 ] || fail "fired before its time: $(cat "$WORK/hook.jsonl")"
kill -TERM "$pid"
wait "$pid" || fail "the first run exited with $?"

restart=$(date +%s)
"$KLAXON_BIN" run --config "$WORK/k.yaml" 2>"$WORK/run2.log" &
PIDS+=($!)
wait_lines "$WORK/hook.jsonl" 1 40 || fail "no flatline 40 s after the restart"
fired=$(date +%s)
grep -q 'msg="state restored"' "$WORK/run2.log" || fail "the restart restored no checkpoint"
if [ $((fired - restart)) -gt 24 ] || [ $((fired - t0)) -lt 29 ]; then
  fail "flatline $((fired - t0)) s after the last event, $((fired - restart)) s after the restart (want about 31 and 12)"
fi
sleep 3
[ "$(wc -l <"$WORK/hook.jsonl")" = 1 ] || fail "sent more than once: $(cat "$WORK/hook.jsonl")"
echo "flatline $((fired - t0)) s after the last event, $((fired - restart)) s after the restart: ok"

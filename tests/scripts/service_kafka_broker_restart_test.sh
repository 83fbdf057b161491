#!/usr/bin/env bash
# The Kafka broker crashes (kill -9) and comes back mid-stream while klaxon run consumes:
# every produced event is evaluated at least once, and the notifications still match replay
# (duplicates, if any, only under the same idempotency key).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
export HOOK_URL="$RECEIVER_URL"
rules="$SRC/tests/scripts/e2e/outage.rules"
log="$SRC/examples/events/outage.jsonl.gz"
export HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"$KLAXON_BIN" replay "$rules" --events "$log" --format json | replay_keys | sort >"$WORK/want"

python3 - "$log" "$WORK/part1.jsonl" "$WORK/part2.jsonl" <<'PY'
import gzip, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
cut = len(lines) // 2
open(sys.argv[2], "w").writelines(lines[:cut])
open(sys.argv[3], "w").writelines(lines[cut:])
PY
kcat -P -b "$BROKERS" -t outage -l "$WORK/part1.jsonl" || fail "cannot produce"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [outage], group_id: klaxon-restart}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
pid=$!
PIDS+=($pid)
wait_lines "$WORK/hook.jsonl" 3 120 || fail "nothing delivered before the broker restart"

"$SRC/scripts/kafka-broker" restart >/dev/null || fail "broker restart failed"
kcat -P -b "$BROKERS" -t outage -l "$WORK/part2.jsonl" || fail "cannot produce after the restart"

admin=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/run.log")
for _ in $(seq 1200); do
  n=$(curl -s "http://127.0.0.1:$admin/metrics" | sed -n 's/^klaxon_events_received_total //p')
  [ "${n:-0}" -ge 12733 ] && break
  sleep 0.1
done
[ "${n:-0}" -ge 12733 ] || fail "only ${n:-0} of 12733 events evaluated"
last=$(tail -1 "$WORK/want" | cut -d' ' -f1)
for _ in $(seq 300); do
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "klaxon run exited with $?"
diff "$WORK/want" "$WORK/got" || fail "notifications differ from replay after the broker restart"
single_keys "$WORK/hook.jsonl" || fail "a notification arrived under several idempotency keys"
echo "broker restart: ok ($n events evaluated)"

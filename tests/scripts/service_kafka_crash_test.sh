#!/usr/bin/env bash
# kill -9 of klaxon run mid-stream, then a restart: no notification is lost, and none is
# delivered twice under different idempotency keys (duplicates, if any, carry the same
# webhook-id). The restart restores the last checkpoint of the state store, re-reads the records
# after it to rebuild exact window state, and stores none of the notifications the killed run
# had already handed over a second time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
rules="$SRC/tests/scripts/e2e/outage.rules"
log="$SRC/examples/events/outage.jsonl.gz"

"$KLAXON_BIN" replay "$rules" --events "$log" --format json | replay_keys | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")

# The first 30 minutes of the story, then the rest after the crash.
python3 - "$log" "$WORK/part1.jsonl" "$WORK/part2.jsonl" <<'PY'
import gzip, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
cut = len(lines) // 3
open(sys.argv[2], "w").writelines(lines[:cut])
open(sys.argv[3], "w").writelines(lines[cut:])
PY
kcat -P -b "$BROKERS" -t outage -l "$WORK/part1.jsonl" || fail "cannot produce"

cat >"$WORK/klaxon.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [outage], group_id: klaxon-crash}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run1.log" &
pid=$!
PIDS+=($pid)
wait_lines "$WORK/hook.jsonl" 3 120 || { tail "$WORK/run1.log"; fail "first run delivered too little"; }
sleep 1.5  # let the run store and commit some offsets
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
first=$(wc -l <"$WORK/hook.jsonl")

kcat -P -b "$BROKERS" -t outage -l "$WORK/part2.jsonl" || fail "cannot produce"
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run2.log" &
pid=$!
PIDS+=($pid)
last=$(tail -1 "$WORK/want" | cut -d' ' -f1)
for _ in $(seq 1200); do
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" && break
  sleep 0.1
done
sleep 2
kill -TERM "$pid"
wait "$pid" || fail "second run exited with $?"
received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "notifications lost or changed across the crash"

# Same notification, same idempotency key.
single_keys "$WORK/hook.jsonl" || fail "a notification arrived under several idempotency keys"
total=$(wc -l <"$WORK/hook.jsonl")
echo "crash and restart: ok ($want notifications; $first before the kill; $total requests in all)"

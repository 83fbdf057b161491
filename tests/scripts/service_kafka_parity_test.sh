#!/usr/bin/env bash
# klaxon run against a real Apache Kafka broker: the outage log produced to a topic yields at a
# local webhook receiver exactly the notifications that `klaxon replay` reports for the same
# log and rules. Then SIGTERM with a slow receiver: readiness drops first, the outbox drains,
# offsets are committed with the last checkpoint (the group reads nothing again), exit 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
rules="$SRC/tests/scripts/e2e/outage.rules"
log="$SRC/examples/events/outage.jsonl.gz"

"$KLAXON_BIN" replay "$rules" --events "$log" --format json | replay_keys | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")
[ "$want" -ge 5 ] || fail "replay gave only $want notifications"

zcat "$log" | kcat -P -b "$BROKERS" -t outage -z lz4 || fail "cannot produce the log"
# Four bad messages: counted by reason, sent to the dead-letter topic, never stopping the run.
# The last is stamped in 2100, past engine.future_limit: the engine rejects it, not the decoder.
# Keyed, as producers key by project: a dead letter keeps its key and timestamp, so it can be
# produced back to the partition it came from.
printf '%s\n' 'bad-1|not json' 'bad-2|{"message":"no timestamp"}' 'bad-3|[1,2,3]' \
  'bad-4|{"timestamp":4102444800}' | kcat -P -b "$BROKERS" -t outage -K '|' ||
  fail "cannot produce"

cat >"$WORK/klaxon.yaml" <<YAML
rules: [$rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [outage]
  group_id: klaxon-parity
  dead_letter_topic: outage-dead-letters
outbox: {path: $WORK/outbox.db, drain_timeout: 30s}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
pid=$!
PIDS+=($pid)
wait_lines "$WORK/hook.jsonl" "$want" 120 || {
  tail -20 "$WORK/run.log"
  fail "receiver got $(wc -l <"$WORK/hook.jsonl") of $want notifications"
}
sleep 2  # anything extra would arrive now
admin=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/run.log")
[ -n "$admin" ] || fail "no admin port in the log"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/-/ready")" = 200 ] ||
  fail "not ready while consuming"
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
grep -q '^klaxon_events_received_total 12737$' <<<"$metrics" || fail "received metric: $(grep events_received <<<"$metrics")"
grep -q '^klaxon_events_rejected_total{reason="invalid_json"} 1$' <<<"$metrics" || fail "invalid_json not counted"
grep -q '^klaxon_events_rejected_total{reason="missing_timestamp"} 1$' <<<"$metrics" || fail "missing_timestamp not counted"
grep -q '^klaxon_events_rejected_total{reason="not_object"} 1$' <<<"$metrics" || fail "not_object not counted"
grep -q '^klaxon_events_rejected_total{reason="future_timestamp"} 1$' <<<"$metrics" || fail "future_timestamp not counted"
grep -q '^klaxon_events_dead_lettered_total 4$' <<<"$metrics" || fail "dead-lettered: $(grep dead_lettered <<<"$metrics")"
dead=$(timeout 30 kcat -C -b "$BROKERS" -t outage-dead-letters -o beginning -c 4 -q \
  -f '%k|%T|%h|%s\n') || fail "dead-letter topic: $dead"
grep -q '^bad-1|.*klaxon-reason=invalid_json.*|not json$' <<<"$dead" || fail "dead letters: $dead"
grep -q '^bad-2|.*klaxon-reason=missing_timestamp' <<<"$dead" || fail "dead letters: $dead"
grep -q '^bad-4|.*klaxon-reason=future_timestamp.*|{"timestamp":4102444800}$' <<<"$dead" ||
  fail "dead letters: $dead"
# Each with its original's timestamp (CreateTime, set by kcat when it produced them).
originals=$(timeout 30 kcat -C -b "$BROKERS" -t outage -o beginning -e -q -f '%k|%T\n' | grep '^bad-') ||
  fail "cannot read the originals"
while IFS='|' read -r key ts _; do
  grep -qx "$key|$ts" <<<"$originals" || fail "dead letter $key stamped $ts; originals: $originals"
done <<<"$dead"
grep -q '^klaxon_rule_notifications_total{rule="orders-db-errors"} 2$' <<<"$metrics" ||
  fail "per-rule notifications metric missing"

# Compare: only notifications up to the last event time; after it the wall clock moves event
# time on in the service, which replay (without --until) does not do.
last=$(tail -1 "$WORK/want" | cut -d' ' -f1)
received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
if ! diff "$WORK/want" "$WORK/got" >"$WORK/diff"; then
  cat "$WORK/diff"
  fail "service and replay disagree"
fi
# Every request is signed the Standard Webhooks way.
python3 - "$WORK/hook.jsonl" "$HOOK_SECRET" <<'PY'
import base64, hashlib, hmac, json, sys
secret = base64.b64decode(sys.argv[2].removeprefix("whsec_"))
for line in open(sys.argv[1]):
    r = json.loads(line)
    h = r["headers"]
    signed = f'{h["webhook-id"]}.{h["webhook-timestamp"]}.{r["raw"]}'.encode()
    want = "v1," + base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    assert want in h["webhook-signature"].split(" "), (want, h["webhook-signature"])
PY

# SIGTERM: readiness drops, exit 0.
kill -TERM "$pid"
for _ in $(seq 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin/-/ready" || true)
  [ "$code" != 200 ] && break
  sleep 0.05
done
wait "$pid" || fail "klaxon run exited with $?"
grep -q 'msg=stopped' "$WORK/run.log" || fail "no clean stop in the log"

# The checkpoint at shutdown covers every record read, and offsets are committed with it
# (docs/operations.md, "State and restarts"): a consumer in the same group re-reads nothing.
again=$(timeout 60 kcat -b "$BROKERS" -G klaxon-parity outage -e -q -X auto.offset.reset=earliest \
  2>/dev/null | wc -l || true)
[ "$again" -eq 0 ] || fail "group re-reads $again of 12737 messages"
echo "service parity: ok ($want notifications)"

#!/usr/bin/env bash
# `source: kafka` with a `sentry:` block against a real broker: the endpoint answers 200 only
# after the broker acknowledged the event (acks=all) on the first of kafka.topics, and klaxon run
# evaluates it from there; with the broker gone, the endpoint answers 503, never 200.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
start_broker

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
ADMIN=$(free_port)
cat >"$WORK/k.rules" <<RULES
action out = log(path: "$WORK/notifications.jsonl")
rule crashes {
  when frequency > 1 in 1m for exception.type:RuntimeError
  group by project
  then out
}
RULES
cat >"$WORK/klaxon.yaml" <<YAML
rules: [k.rules]
source: kafka
kafka:
  brokers: "$BROKERS"
  topics: [sentry-events]
  group_id: klaxon-sentry-test
sentry:
  listen: "127.0.0.1:$PORT"
  projects: [{id: 5, name: billing, keys: [k5]}]
  ack_timeout: 3s
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:$ADMIN"}
YAML
"$KLAXON_BIN" check --config "$WORK/klaxon.yaml" >/dev/null || fail "check --config"
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" >"$WORK/run.log" 2>&1 &
KLAXON_PID=$!
PIDS+=($KLAXON_PID)
wait_http "http://127.0.0.1:$ADMIN/-/healthy" 30 || fail "klaxon run did not start: $(tail -5 "$WORK/run.log")"

URL="http://127.0.0.1:$PORT/api/5/envelope/?sentry_key=k5"
now=$(date +%s)
for i in 1 2; do
  event="{\"event_id\":\"0000000000000000000000000000000$i\",\"timestamp\":$now,\"exception\":{\"values\":[{\"type\":\"RuntimeError\",\"value\":\"boom\"}]}}"
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary $'{}\n{"type":"event"}\n'"$event" "$URL")
  [ "$code" = 200 ] || fail "envelope $i: $code $(cat "$WORK/body")"
  grep -q "\"id\":\"0000000000000000000000000000000$i\"" "$WORK/body" || fail "answer: $(cat "$WORK/body")"
done
# Answered 200, so on the topic already: read it back with kcat.
kcat -C -b "$BROKERS" -t sentry-events -o beginning -c 2 -e -q >"$WORK/topic.jsonl" 2>/dev/null ||
  fail "kcat could not read sentry-events"
python3 - "$WORK/topic.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert [e["event_id"][-1] for e in events] == ["1", "2"], events
assert all(e["project"] == "billing" and e["project_id"] == 5 for e in events), events
PY
touch "$WORK/notifications.jsonl"
echo "events on the topic after $SECONDS s; waiting for the notification"
wait_lines "$WORK/notifications.jsonl" 1 60 || fail "no notification from the topic: $(tail -5 "$WORK/run.log")"
grep -q '"rule":"crashes"' "$WORK/notifications.jsonl" || fail "$(cat "$WORK/notifications.jsonl")"
grep -q '"project":"billing"' "$WORK/notifications.jsonl" || fail "$(cat "$WORK/notifications.jsonl")"

echo "notified after $SECONDS s"
# The broker goes away: no acknowledgement, so 503 (with Retry-After), not 200.
"$SRC/scripts/kafka-broker" stop >/dev/null 2>&1
BROKER_STARTED=""
code=$(curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 20 \
  --data-binary $'{}\n{"type":"event"}\n{"exception":{"values":[{"type":"RuntimeError"}]}}' "$URL")
[ "$code" = 503 ] || fail "with the broker down: $code $(cat "$WORK/body")"
grep -qi '^retry-after: 1' "$WORK/headers" || fail "no Retry-After: $(cat "$WORK/headers")"
curl -s "http://127.0.0.1:$ADMIN/metrics" | grep -q \
  'klaxon_ingest_items_dropped_total{project="billing",type="event",reason="kafka_error"} 1' ||
  fail "kafka_error not counted"
# (A graceful stop would wait for the gone broker to commit offsets; not this test's subject.)
kill -KILL "$KLAXON_PID"; wait "$KLAXON_PID" 2>/dev/null || true
echo "ok: produced with acks=all before answering; 503 without a broker"

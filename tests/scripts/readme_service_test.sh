#!/usr/bin/env bash
# The README's "Running the service" steps, as a user types them: the broker's address exported
# by `export "$(scripts/kafka-broker start)"`, the shipped outage log produced with kcat, and
# `klaxon run --config examples/config/klaxon.yaml` unchanged (only the outbox path and the
# admin port come from the environment and a flag, so parallel tests do not collide). Its
# local rules must print their notifications on stdout and count them in /metrics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_RUN="$WORK/kafka"
BROKER_STARTED=1
export "$("$SRC/scripts/kafka-broker" start)" || fail "kafka-broker start failed"
[ -n "${KAFKA_BROKERS:-}" ] || fail "kafka-broker start printed no KAFKA_BROKERS"
zcat "$SRC/examples/events/outage.jsonl.gz" | kcat -P -b "$KAFKA_BROKERS" -t sentry-events ||
  fail "cannot produce the log"

# What replay says the same rules do with the same log.
"$KLAXON_BIN" replay "$SRC/examples/config/local.rules" --events "$SRC/examples/events/outage.jsonl.gz" \
  --format json | replay_keys | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")
[ "$want" -ge 3 ] || fail "replay gave only $want notifications"

export KLAXON_OUTBOX="$WORK/outbox.db"
(cd "$SRC" && exec "$KLAXON_BIN" run --config examples/config/klaxon.yaml \
  --admin.listen=127.0.0.1:0) >"$WORK/stdout.jsonl" 2>"$WORK/run.log" &
pid=$!
PIDS+=($pid)
wait_lines "$WORK/stdout.jsonl" "$want" 120 || {
  tail -20 "$WORK/run.log" >&2
  fail "klaxon run printed $(wc -l <"$WORK/stdout.jsonl") of $want notifications"
}
replay_keys <"$WORK/stdout.jsonl" | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "klaxon run and replay disagree"
port=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/run.log")
# /metrics serves a snapshot the run loop publishes every 200 ms: give it a moment.
total=0
for _ in $(seq 100); do
  total=$(curl -s "127.0.0.1:$port/metrics" |
    awk '/^klaxon_rule_notifications_total/ {s += $2} END {print s + 0}')
  [ "$total" -eq "$want" ] && break
  sleep 0.1
done
[ "$total" -eq "$want" ] || fail "metrics count $total notifications, want $want"
if grep -q CONFWARN "$WORK/run.log"; then
  grep CONFWARN "$WORK/run.log" >&2
  fail "the example configuration makes librdkafka warn"
fi
kill -TERM "$pid"
wait "$pid" || fail "klaxon run exited non-zero on SIGTERM"
echo "PASS: the README's service steps give replay's $want notifications"

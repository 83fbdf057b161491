#!/usr/bin/env bash
# `state: {enabled: false}` on a real broker (docs/operations.md, "Without a state store"): no
# state store is written; offsets are committed behind evaluation by the restore horizon, so
# each SIGTERM restart re-reads that much of the topic to rebuild window state, and the
# notifications recomputed from records the previous run had handed over (OUTBOX.progress) are
# suppressed. The recorded outage, produced in three parts with a SIGTERM restart after each,
# must give exactly the notifications of one `klaxon replay`, each once, and the restarts must
# have re-read and suppressed (klaxon_notifications_suppressed_total above 0).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
outage_want

python3 - "$log" "$WORK" <<'PY'
import gzip, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
cut = [0, len(lines) // 3, 2 * len(lines) // 3, len(lines)]
for i in range(3):
    open("%s/part%d.jsonl" % (sys.argv[2], i + 1), "w").writelines(lines[cut[i]:cut[i + 1]])
PY

cat >"$WORK/klaxon.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [outage], group_id: klaxon-stateless}
state: {enabled: false}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML

# metric PORT NAME: the value of an unlabelled sample on /metrics.
metric() { curl -s "http://127.0.0.1:$1/metrics" | sed -n "s/^$2 //p"; }

# run_part N: produces part N, starts klaxon run, waits until it has read everything (consumer
# lag 0) and evaluated what it can, and leaves PID and PORT set.
run_part() {
  kcat -P -b "$BROKERS" -t outage -l "$WORK/part$1.jsonl" || fail "cannot produce part $1"
  "$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run$1.log" &
  PID=$!
  PIDS+=($PID)
  PORT=$(admin_port "$WORK/run$1.log")
  [ -n "$PORT" ] || { cat "$WORK/run$1.log"; fail "run $1 did not start"; }
  local caught_up=""
  for _ in $(seq 600); do
    caught_up=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n '/^klaxon_kafka_consumer_lag{.*} 0$/p')
    [ -n "$caught_up" ] && break
    sleep 0.1
  done
  [ -n "$caught_up" ] || { tail -5 "$WORK/run$1.log"; fail "run $1 did not catch up"; }
  sleep 2  # the lateness passes on the clock: what was read is evaluated and handed over
}

stop() {
  kill -TERM "$PID"
  wait "$PID" || fail "run $1 exited with $? after SIGTERM"
}

run_part 1
stop 1
suppressed=0
for part in 2 3; do
  run_part $part
  if [ $part = 3 ]; then
    for _ in $(seq 600); do
      received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
      cmp -s "$WORK/want" "$WORK/got" && break
      sleep 0.1
    done
  fi
  n=$(metric "$PORT" klaxon_notifications_suppressed_total)
  echo "run $part: $n notifications recomputed from re-read records and suppressed"
  suppressed=$((suppressed + ${n:-0}))
  stop $part
done

ls "$WORK"/outbox.db.state* >/dev/null 2>&1 && fail "a state store was written with state.enabled false"
# Each notification exactly once (not only the same set): a SIGTERM restart sends none twice.
received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "notifications lost, changed or sent twice across the restarts"
[ "$suppressed" -gt 0 ] || fail "no restart re-read (and suppressed) what an earlier run handed over"
echo "state.enabled false, two SIGTERM restarts: ok ($want notifications, each once; $suppressed suppressed)"

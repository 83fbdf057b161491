#!/usr/bin/env bash
# klaxon run against a real broker when the files beside it fail (docs/operations.md, "What a
# restart can and cannot cause"):
#   outbox    the outbox refuses writes (its file moved away, as a full disk refuses them): the
#             notification waits in memory, /-/ready answers 503 with the reason, no checkpoint
#             is taken (each counted); once the file is back it is stored and delivered once,
#             checkpoints resume at once, and a restart sends nothing again;
#   deleted   the state store deleted while running: the next checkpoint writes the whole state
#             into a new file, so a restart still counts the events from before the deletion;
#   missing   a missing state store beside an outbox of an earlier run stops the start (exit 2,
#             naming both files); --fresh-state starts with empty state deliberately;
#   full      the state store's disk full (a small tmpfs; skipped where it cannot be mounted):
#             the shutdown checkpoint fails, is logged as such and run exits 1, not 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
K="$KLAXON_BIN"
cat >"$WORK/r.rules" <<RULES
action hook = webhook(url: "$RECEIVER_URL")
rule errors {
  when frequency > 2/min for service:api
  then hook
}
RULES
# config NAME: a run reading topic NAME into outbox NAME.db (state NAME.db.state).
config() {
  cat >"$WORK/$1.yaml" <<YAML
rules: [$WORK/r.rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [$1]
  group_id: klaxon-$1
  properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "1000", group.instance.id: klaxon-$1}
engine: {allowed_lateness: 1s, partition_idle_timeout: 1s}
state: {checkpoint_interval: 300ms}
outbox: {path: $WORK/$1.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
}
# produce TOPIC N [SERVICE]: N errors of SERVICE (default api) stamped now.
produce() {
  python3 -c '
import json, sys, time
for _ in range(int(sys.argv[1])):
    print(json.dumps({"timestamp": round(time.time(), 3), "tags": {"service": sys.argv[2]}}))' \
    "$2" "${3:-api}" | kcat -P -b "$BROKERS" -t "$1" || fail "cannot produce to $1"
}
# start NAME [flags]: starts klaxon run; sets PID and ADMIN once it serves /-/ready.
start() {
  local name=$1
  shift
  : >"$WORK/$name.log"
  "$K" run --config "$WORK/$name.yaml" "$@" 2>"$WORK/$name.log" &
  PID=$!
  PIDS+=($PID)
  ADMIN="$(admin_port "$WORK/$name.log")"
  [ -n "$ADMIN" ] || fail "$name: did not start: $(cat "$WORK/$name.log")"
  wait_http "http://127.0.0.1:$ADMIN/-/ready" 30 || fail "$name: never ready"
}
# metric NAME: the value of an unlabelled metric of the running service.
metric() {
  curl -s "http://127.0.0.1:$ADMIN/metrics" | sed -n "s/^$1 \([0-9.e+]*\)$/\1/p"
}
# wait_metric NAME VALUE SECONDS
wait_metric() {
  for _ in $(seq $(($3 * 10))); do
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 is $(metric "$1"), want $2 within $3 s"
}
stop() {
  kill -TERM "$PID"
  wait "$PID" || fail "exit $? at SIGTERM: $(grep 'level=error' "$1" | head -5)"
}

# --- outbox: writes refused, then accepted again.
config outbox
produce outbox 1 web  # creates the topic: the run is ready once it is assigned
start outbox
mv "$WORK/outbox.db" "$WORK/outbox.db.away"
produce outbox 3
wait_metric klaxon_notifications_unstored 1 30
wait_http "http://127.0.0.1:$ADMIN/-/ready" 10 503 || fail "outbox: still ready"
curl -s "http://127.0.0.1:$ADMIN/-/ready" |
  grep -q 'not ready: 1 notifications could not be stored in the outbox' ||
  fail "outbox: /-/ready gives no reason: $(curl -s "http://127.0.0.1:$ADMIN/-/ready")"
checkpoints=$(metric klaxon_state_checkpoints_total)
sleep 1.5  # five checkpoint intervals
[ "$(metric klaxon_state_checkpoints_total)" = "$checkpoints" ] || fail "outbox: a checkpoint skipped past an unstored notification"
[ "$(metric klaxon_state_checkpoint_failures_total)" -ge 2 ] || fail "outbox: skipped checkpoints not counted"
grep -q 'level=error msg="no checkpoint: notifications not stored in the outbox yet"' "$WORK/outbox.log" ||
  grep -q 'level=error msg="cannot store notifications' "$WORK/outbox.log" || fail "outbox: nothing logged"
[ "$(wc -l <"$WORK/hook.jsonl")" = 0 ] || fail "outbox: delivered before it was stored"
mv "$WORK/outbox.db.away" "$WORK/outbox.db"
wait_lines "$WORK/hook.jsonl" 1 30 || fail "outbox: never delivered once the outbox was back"
wait_metric klaxon_notifications_unstored 0 10
wait_http "http://127.0.0.1:$ADMIN/-/ready" 10 || fail "outbox: not ready again"
[ "$(metric klaxon_state_checkpoints_total)" -gt "$checkpoints" ] || fail "outbox: checkpoints did not resume"
grep -q 'msg="notifications stored after an outbox failure; checkpoints resume"' "$WORK/outbox.log" ||
  fail "outbox: recovery not logged"
stop "$WORK/outbox.log"
start outbox
grep -q 'msg="state restored"' "$WORK/outbox.log" || fail "outbox: the restart restored no checkpoint"
sleep 3  # a re-sent notification would arrive now
stop "$WORK/outbox.log"
[ "$(wc -l <"$WORK/hook.jsonl")" = 1 ] || fail "outbox: $(wc -l <"$WORK/hook.jsonl") requests, want 1"
grep -q '"state": *"firing"' "$WORK/hook.jsonl" || fail "outbox: not the firing notification: $(cat "$WORK/hook.jsonl")"

# --- deleted: the state store removed while running.
: >"$WORK/hook.jsonl"
config deleted
produce deleted 1 web
start deleted
produce deleted 2
wait_metric klaxon_events_received_total 3 30
sleep 1  # checkpoints with the two events in their window
rm "$WORK/deleted.db.state"
for _ in $(seq 50); do [ -e "$WORK/deleted.db.state" ] && break; sleep 0.1; done
[ -e "$WORK/deleted.db.state" ] || fail "deleted: no new state store written"
grep -q 'level=error msg="the state store was deleted or replaced while running' "$WORK/deleted.log" ||
  fail "deleted: not logged"
stop "$WORK/deleted.log"
start deleted
grep -q 'msg="state restored"' "$WORK/deleted.log" || fail "deleted: nothing restored"
produce deleted 1  # the third in a minute: fires only if the first two were kept
wait_lines "$WORK/hook.jsonl" 1 30 || fail "deleted: the state from before the deletion was lost"
stop "$WORK/deleted.log"

# --- missing: the state store gone between two runs.
rm "$WORK/deleted.db.state"
rc=0
timeout 30 "$K" run --config "$WORK/deleted.yaml" 2>"$WORK/missing.log" || rc=$?
[ "$rc" = 2 ] || fail "missing: exit $rc, want 2: $(cat "$WORK/missing.log")"
grep -qF "state store $WORK/deleted.db.state is missing, but the outbox $WORK/deleted.db shows an earlier run" "$WORK/missing.log" ||
  fail "missing: $(cat "$WORK/missing.log")"
grep -qF 'klaxon run --fresh-state' "$WORK/missing.log" || fail "missing: no way out named"
[ ! -e "$WORK/deleted.db.state" ] || fail "missing: a refused start created the state store"
start deleted --fresh-state
grep -q 'msg="no checkpoint yet; starting with empty state"' "$WORK/deleted.log" ||
  fail "missing: --fresh-state did not start empty"
stop "$WORK/deleted.log"

# --- full: the state store on a small file system that fills up.
mkdir "$WORK/small"
if mount -t tmpfs -o size=2m tmpfs "$WORK/small" 2>/dev/null; then
  trap 'umount "$WORK/small" 2>/dev/null || true; cleanup' EXIT
  config full
  sed -i "s|^state: .*|state: {path: $WORK/small/full.state, checkpoint_interval: 300ms}|" "$WORK/full.yaml"
  produce full 1 web
  start full
  produce full 2
  wait_metric klaxon_events_received_total 3 30
  sleep 1
  [ "$(metric klaxon_state_checkpoint_failures_total)" = 0 ] || fail "full: checkpoints failed before the disk was full"
  dd if=/dev/zero of="$WORK/small/filler" bs=4k 2>/dev/null || true  # until the disk is full
  produce full 1 web
  for _ in $(seq 100); do grep -q 'msg="checkpoint failed"' "$WORK/full.log" && break; sleep 0.1; done
  grep -q 'msg="checkpoint failed"' "$WORK/full.log" || fail "full: no checkpoint failed on a full disk"
  kill -TERM "$PID"
  rc=0
  wait "$PID" || rc=$?
  [ "$rc" = 1 ] || fail "full: exit $rc after a failed shutdown checkpoint, want 1"
  grep -q 'level=error msg="the shutdown checkpoint was not saved' "$WORK/full.log" ||
    fail "full: the failed shutdown checkpoint was not logged: $(tail -5 "$WORK/full.log")"
  grep -q 'checkpoint failed" why=shutdown' "$WORK/full.log" || fail "full: no reason logged"
else
  echo "full: SKIPPED (cannot mount a tmpfs here)"
fi
echo "PASS service_kafka_state_files_test"

#!/usr/bin/env bash
# One `klaxon run` per outbox: a second run on the same outbox (and so the same state store), or
# on another outbox but the same state store (state.path), refuses to start with exit 2 and
# names the running one's pid; once the first has stopped, a run starts again. A run on another
# outbox in the same folder is not affected.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

: >"$WORK/events.jsonl"
cat >"$WORK/r.rules" <<RULES
action out = log(path: "$WORK/notes.jsonl")
rule errors {
  when frequency > 5/min
  then out
}
RULES
# config NAME OUTBOX: a followed file source (runs until stopped).
config() {
  cat >"$WORK/$1.yaml" <<YAML
rules: [r.rules]
source: file
file: {path: events.jsonl, follow: true}
outbox: {path: $2}
admin: {listen: "127.0.0.1:0"}
YAML
}
# with_state CONFIG STATE: the state store at STATE instead of OUTBOX.state.
with_state() { echo "state: {path: $2}" >>"$WORK/$1.yaml"; }
config first outbox.db
config other other.db
config shared other.db
with_state shared outbox.db.state.shared
config shared2 third.db
with_state shared2 outbox.db.state.shared
K="$KLAXON_BIN"

# run_started CONFIG: starts klaxon run in the background; sets PID once it listens.
run_started() {
  "$K" run --config "$WORK/$1.yaml" 2>"$WORK/$1.log" &
  PID=$!
  PIDS+=($PID)
  [ -n "$(admin_port "$WORK/$1.log")" ] || fail "$1: did not start: $(cat "$WORK/$1.log")"
}
# stopped PID: SIGTERM, and a clean exit.
stopped() {
  kill -TERM "$1"
  wait "$1" || fail "pid $1 exited $?"
}
# refused CONFIG HELD_FILE HOLDER: klaxon run exits 2 with the pinned message.
refused() {
  local rc=0
  timeout 30 "$K" run --config "$WORK/$1.yaml" >"$WORK/$1.out" 2>"$WORK/$1.err" || rc=$?
  [ "$rc" = 2 ] || fail "$1: a second run exited $rc, want 2: $(cat "$WORK/$1.err")"
  local want="klaxon run: $WORK/$2 is in use by another klaxon process (pid $3)"
  [ "$(cat "$WORK/$1.err")" = "$want" ] || fail "$1 said: $(cat "$WORK/$1.err"); want: $want"
}

run_started first
first=$PID
refused first outbox.db "$first"
kill -0 "$first" 2>/dev/null || fail "the first run stopped"

# Another outbox sharing the state store (state.path): refused too, naming the state store.
run_started shared
refused shared2 outbox.db.state.shared "$PID"
stopped "$PID"

# Another outbox beside it: its own instance.
run_started other
stopped "$PID"

stopped "$first"
# The lock went with the process: the next run starts.
run_started first
stopped "$PID"
echo "PASS service_instance_lock_test"

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
config first outbox.db
config other other.db
K="$KLAXON_BIN"

"$K" run --config "$WORK/first.yaml" 2>"$WORK/first.log" &
first=$!
PIDS+=($first)
[ -n "$(admin_port "$WORK/first.log")" ] || fail "the first run did not start: $(cat "$WORK/first.log")"

rc=0
timeout 30 "$K" run --config "$WORK/first.yaml" >"$WORK/second.out" 2>"$WORK/second.err" || rc=$?
[ "$rc" = 2 ] || fail "a second run on the same outbox exited $rc, want 2: $(cat "$WORK/second.err")"
want="klaxon run: $WORK/outbox.db is in use by another klaxon process (pid $first)"
[ "$(cat "$WORK/second.err")" = "$want" ] ||
  fail "second run said: $(cat "$WORK/second.err"); want: $want"
kill -0 "$first" 2>/dev/null || fail "the first run stopped"

# Another outbox sharing the state store (state.path): refused too, naming the state store.
config shared other.db
echo 'state: {path: outbox.db.state.shared}' >>"$WORK/shared.yaml"
config shared2 third.db
echo 'state: {path: outbox.db.state.shared}' >>"$WORK/shared2.yaml"
"$K" run --config "$WORK/shared.yaml" 2>"$WORK/shared.log" &
shared=$!
PIDS+=($shared)
[ -n "$(admin_port "$WORK/shared.log")" ] || fail "the shared-state run did not start: $(cat "$WORK/shared.log")"
rc=0
timeout 30 "$K" run --config "$WORK/shared2.yaml" >"$WORK/shared2.out" 2>"$WORK/shared2.err" || rc=$?
[ "$rc" = 2 ] || fail "a second run on the same state store exited $rc, want 2: $(cat "$WORK/shared2.err")"
want="klaxon run: $WORK/outbox.db.state.shared is in use by another klaxon process (pid $shared)"
[ "$(cat "$WORK/shared2.err")" = "$want" ] ||
  fail "second run said: $(cat "$WORK/shared2.err"); want: $want"
kill -TERM "$shared"
wait "$shared" || fail "the shared-state run exited $?"

# Another outbox beside it: its own instance.
"$K" run --config "$WORK/other.yaml" 2>"$WORK/other.log" &
other=$!
PIDS+=($other)
[ -n "$(admin_port "$WORK/other.log")" ] || fail "a run on another outbox did not start: $(cat "$WORK/other.log")"
kill -TERM "$other"
wait "$other" || fail "the other run exited $?"

kill -TERM "$first"
wait "$first" || fail "the first run exited $?"
# The lock went with the process: the next run starts.
"$K" run --config "$WORK/first.yaml" 2>"$WORK/third.log" &
third=$!
PIDS+=($third)
[ -n "$(admin_port "$WORK/third.log")" ] || fail "a run after the first stopped did not start: $(cat "$WORK/third.log")"
kill -TERM "$third"
wait "$third" || fail "the third run exited $?"
echo "PASS service_instance_lock_test"

#!/usr/bin/env bash
# `klaxon run` never starts with silently empty state: a state store that is corrupt, truncated,
# of another format version, not a SQLite file at all, or on a read-only file system stops the
# start with exit 2 and an error naming the file (docs/operations.md). The state store is opened
# before Kafka is contacted, so no broker is needed: kafka.brokers names a closed port.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

K="$KLAXON_BIN"
printf 'action out = log(path: "%s/notes.jsonl")\nrule errors {\n  when frequency > 5/min\n  then out\n}\n' \
  "$WORK" >"$WORK/r.rules"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [r.rules]
source: kafka
kafka: {brokers: "127.0.0.1:9", topics: [events], group_id: klaxon-refused}
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:0"}
YAML
state="$WORK/outbox.db.state"

# A valid store: one run that starts and stops (its shutdown checkpoint writes the file).
"$K" run --config "$WORK/klaxon.yaml" 2>"$WORK/first.log" &
pid=$!
PIDS+=($pid)
[ -n "$(admin_port "$WORK/first.log")" ] || fail "the first run did not start: $(cat "$WORK/first.log")"
kill -TERM "$pid"
wait "$pid" || fail "the first run exited $?: $(grep level=error "$WORK/first.log")"
[ -s "$state" ] || fail "no state store written"
cp "$state" "$WORK/good.state"

# refused CASE: klaxon run exits 2 naming the state store.
refused() {
  local rc=0
  timeout 30 "$K" run --config "$WORK/klaxon.yaml" >"$WORK/$1.out" 2>"$WORK/$1.log" || rc=$?
  [ "$rc" = 2 ] || fail "$1: exit $rc, want 2: $(cat "$WORK/$1.log")"
  # The start's own error, or the preflight's list (klaxon run: cannot start: ...).
  grep -q 'cannot start' "$WORK/$1.log" && grep -v 'level=info' "$WORK/$1.log" | grep -qF "$state" ||
    fail "$1: the error does not name $state: $(cat "$WORK/$1.log")"
}

# Not a SQLite file at all.
head -c 8192 /dev/urandom >"$state"
refused garbage
# A SQLite file of something else.
rm -f "$state"*
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.commit()' "$state"
refused foreign
# Truncated: the first half of a valid store.
rm -f "$state"*
cp "$WORK/good.state" "$state"
truncate -s "$(($(stat -c %s "$state") / 2))" "$state"
refused truncated
# Another format version.
rm -f "$state"*
cp "$WORK/good.state" "$state"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("pragma user_version = 99"); c.commit()' "$state"
refused version
grep -q 'version' "$WORK/version.log" || fail "version: the error does not say which version: $(cat "$WORK/version.log")"
# Corrupt: a valid store whose pages after the first (the schema) are overwritten.
rm -f "$state"*
cp "$WORK/good.state" "$state"
page=$(python3 -c 'import sys; b = open(sys.argv[1], "rb").read(18); print(int.from_bytes(b[16:18], "big"))' "$state")
size=$(stat -c %s "$state")
[ "$size" -gt "$page" ] || fail "the store has one page only"
head -c $((size - page)) /dev/urandom | dd of="$state" bs=1 seek="$page" conv=notrunc 2>/dev/null
refused corrupt

# The untouched store still starts (the cases above fail for their damage, not for the setup).
rm -f "$state"*
cp "$WORK/good.state" "$state"
"$K" run --config "$WORK/klaxon.yaml" 2>"$WORK/good.log" &
pid=$!
PIDS+=($pid)
[ -n "$(admin_port "$WORK/good.log")" ] || fail "the good store did not start: $(cat "$WORK/good.log")"
kill -TERM "$pid"
wait "$pid" || fail "the good store's run exited $?"

# Read-only: on a read-only file system (a tmpfs remounted read-only; permissions would not stop
# root). Skipped where no tmpfs can be mounted.
mkdir "$WORK/ro"
if mount -t tmpfs -o size=4m tmpfs "$WORK/ro" 2>/dev/null; then
  trap 'umount "$WORK/ro" 2>/dev/null || true; cleanup' EXIT
  cp "$WORK/good.state" "$WORK/ro/state"
  mount -o remount,ro "$WORK/ro"
  state="$WORK/ro/state"
  echo "state: {path: $state}" >>"$WORK/klaxon.yaml"
  refused readonly
else
  echo "readonly: SKIPPED (cannot mount a tmpfs here)"
fi
echo "PASS service_state_store_refused_test"

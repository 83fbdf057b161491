#!/usr/bin/env bash
# An event stamped 55 min ahead of the clock, inside the default engine.future_limit (1h), in
# the middle of a real outage: it is accepted and moves event time on, so the outage's later
# events count as late. That must never be silent: replay says so on stderr (with the rule of
# thumb to lower the limit), run logs a warning; with a lower limit (--future-limit 10m,
# engine.future_limit: 10m) the event is rejected as future_timestamp and nothing is late.
# Replay and run agree on the notifications either way.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

python3 - >"$WORK/events.jsonl" <<'PY'
import json, time
now = time.time()
for i in range(20):
    print(json.dumps({"timestamp": round(now - 600 + i * 5, 3), "tags": {"service": "a"}}))
print(json.dumps({"timestamp": round(now + 55 * 60, 3), "tags": {"service": "b"}}))
for i in range(20):
    print(json.dumps({"timestamp": round(now - 490 + i * 5, 3), "tags": {"service": "c"}}))
PY
cat >"$WORK/r.rules" <<RULES
action out = log(path: "$WORK/notes.jsonl")
rule errors {
  when frequency > 5/min
  group by service
  then out
}
RULES
K="$KLAXON_BIN"

# replay_and_run LIMIT: notifications of replay and of run (file source) with that limit.
replay_and_run() {
  local limit=$1
  rm -f "$WORK/notes.jsonl" "$WORK/outbox.db"*
  "$K" replay "$WORK/r.rules" --events "$WORK/events.jsonl" --format json --future-limit "$limit" \
    >"$WORK/replay.out" 2>"$WORK/replay.err" || fail "replay failed: $(cat "$WORK/replay.err")"
  cat >"$WORK/klaxon.yaml" <<YAML
rules: [r.rules]
source: file
file: {path: events.jsonl}
engine: {future_limit: $limit}
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:0"}
YAML
  timeout 60 "$K" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" || fail "run failed: $(tail "$WORK/run.log")"
  touch "$WORK/notes.jsonl"
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    n = json.loads(line)
    print(n["rule"], n["state"], json.dumps(n["group"], sort_keys=True))' "$WORK/replay.out" \
    | sort >"$WORK/replay.keys"
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    n = json.loads(line)
    rule = n["rule"]["name"] if isinstance(n["rule"], dict) else n["rule"]
    print(rule, n["state"], json.dumps(n["group"], sort_keys=True))' "$WORK/notes.jsonl" \
    | sort >"$WORK/run.keys"
  diff "$WORK/replay.keys" "$WORK/run.keys" >/dev/null ||
    fail "replay and run disagree with future_limit $limit: $(diff "$WORK/replay.keys" "$WORK/run.keys")"
}

replay_and_run 1h
grep -q "20 late" "$WORK/replay.err" || fail "the skewed event made no events late? $(cat "$WORK/replay.err")"
grep -q "1 event was accepted although stamped more than the allowed lateness (5s) ahead of the clock" \
  "$WORK/replay.err" || fail "replay is silent about the event ahead of the clock: $(cat "$WORK/replay.err")"
grep -q "lower --future-limit" "$WORK/replay.err" || fail "replay gives no advice"
grep -q 'msg="events ahead of the clock"' "$WORK/run.log" || fail "run is silent: $(cat "$WORK/run.log")"
grep -q 'lower engine.future_limit' "$WORK/run.log" || fail "run gives no advice"
grep -q '"c"' "$WORK/replay.keys" && fail "late events fired: $(cat "$WORK/replay.keys")"
with_1h="$(wc -l <"$WORK/replay.keys")"

replay_and_run 10m
grep -q "1 rejected (future_timestamp 1), 0 late" "$WORK/replay.err" ||
  fail "--future-limit 10m did not reject the event: $(cat "$WORK/replay.err")"
grep -q "ahead of the clock" "$WORK/replay.err" && fail "a rejected event reported as accepted"
grep -q 'msg="events ahead of the clock"' "$WORK/run.log" && fail "run warned about a rejected event"
grep -q '"c"' "$WORK/replay.keys" || fail "the outage's later events did not fire: $(cat "$WORK/replay.keys")"
with_10m="$(wc -l <"$WORK/replay.keys")"
[ "$with_10m" -gt "$with_1h" ] || fail "lowering future_limit changed nothing ($with_1h, $with_10m)"

# The flag takes durations as everywhere else.
"$K" replay "$WORK/r.rules" --events "$WORK/events.jsonl" --future-limit soon >/dev/null 2>&1 &&
  fail "--future-limit soon accepted"
echo "future limit: ok"

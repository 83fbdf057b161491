#!/usr/bin/env bash
# klaxon replay as a user drives it: the documented JSON line, bad lines reported by number
# on stderr without stopping, --until running the clock on, --explain, --payloads, stdin and
# the noise table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cat >"$WORK/r.rules" <<'RULES'
action hook = webhook(url: "https://incidents.example.com/hook", secret: env("HOOK_SECRET"))
rule orders-db-errors {
  when frequency > 5/min for service:orders-api AND exception.type:DatabaseError
  group by environment
  then hook
}
RULES
python3 - "$WORK/events.jsonl" <<'PY'
import json, sys
base = 1764028860.0  # 2025-11-25T00:01:00Z
out = open(sys.argv[1], "w")
for i, off in enumerate([0.5, 2.1, 3.4, 4.9, 6.0, 7.25]):
    out.write(json.dumps({"event_id": f"e{i}", "timestamp": round(base + off, 3),
                          "environment": "production", "tags": [["service", "orders-api"]],
                          "exception": {"values": [{"type": "DatabaseError"}]}}) + "\n")
    if i == 2:
        out.write("{not json\n")
        out.write('{"timestamp": "yesterday"}\n')
        out.write("[1,2]\n")
PY

"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/events.jsonl" --format json \
  >"$WORK/out.jsonl" 2>"$WORK/err" || fail "replay failed"
expected='{"at":"2025-11-25T00:01:07.250Z","rule":"orders-db-errors","state":"firing","group":{"environment":"production"},"value":6,"actions":["hook"]}'
[ "$(cat "$WORK/out.jsonl")" = "$expected" ] || fail "json line: $(cat "$WORK/out.jsonl")"
grep -q "9 events read, 3 rejected (invalid_json 1, not_object 1, invalid_timestamp 1), 0 late" \
  "$WORK/err" || fail "no rejection summary: $(cat "$WORK/err")"
grep -q "line 4: invalid_json" "$WORK/err" || fail "line 4 not named: $(cat "$WORK/err")"
grep -q "line 5: invalid_timestamp" "$WORK/err" || fail "line 5 not named"
grep -q "line 6: not_object" "$WORK/err" || fail "line 6 not named"

# --until runs the clock on: the window empties and the alert resolves exactly when the
# seventh-newest event (the first, at 00:01:00.500) leaves the one-minute window.
"$KLAXON_BIN" replay "$WORK/r.rules" --events - --format json --until 2025-11-25T01:00:00Z \
  <"$WORK/events.jsonl" >"$WORK/until.jsonl" 2>/dev/null
grep -q '"at":"2025-11-25T00:02:00.500Z","rule":"orders-db-errors","state":"resolved"' \
  "$WORK/until.jsonl" || fail "no exact resolve: $(cat "$WORK/until.jsonl")"

"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/events.jsonl" --format json --explain \
  2>/dev/null >"$WORK/explain.jsonl"
python3 - "$WORK/explain.jsonl" <<'PY'
import json, sys
n = json.loads(open(sys.argv[1]).readline())
assert n["window"] == {"start": "2025-11-25T00:00:07.250Z", "end": "2025-11-25T00:01:07.250Z"}, n
assert sorted(n["events"]) == ["e0", "e1", "e2", "e3", "e4", "e5"], n
assert n["threshold"] == 5, n
PY

HOOK_SECRET=not-needed-for-payloads "$KLAXON_BIN" replay "$WORK/r.rules" \
  --events "$WORK/events.jsonl" --format json --payloads 2>/dev/null >"$WORK/payloads.jsonl"
python3 - "$WORK/payloads.jsonl" <<'PY'
import json, sys
n = json.loads(open(sys.argv[1]).readline())
(req,) = n["requests"]
assert req["action"] == "hook" and req["method"] == "POST", req
assert req["url"] == "https://incidents.example.com/hook", req
assert req["body"]["rule"]["name"] == "orders-db-errors", req
# Previews use stand-in secrets: the signature is a placeholder, never a real-looking value.
assert req["headers"]["webhook-signature"] == "v1,<signature computed at delivery>", req
assert len(req["body"]["rule"]["id"]) == 16, req
PY

"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/events.jsonl" >"$WORK/text" 2>/dev/null
grep -q "firing    orders-db-errors {environment=production}" "$WORK/text" || fail "timeline"
grep -q "^orders-db-errors  *1  *1 " "$WORK/text" || fail "noise table: $(cat "$WORK/text")"

# Every run says what it read, even when nothing went wrong.
"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/events.jsonl" >/dev/null 2>"$WORK/err" ||
  fail "replay failed"
grep -q "^klaxon replay: 9 events read, 3 rejected" "$WORK/err" || fail "no summary: $(cat "$WORK/err")"

# Two sorted logs concatenated in the wrong order: the older half arrives late. Replay used to
# print no notification, exit 0 and say nothing.
python3 - "$WORK/late.jsonl" "$WORK/many.jsonl" <<'PY'
import json, sys
base = 1764028860.0
def event(t, user=None):
    e = {"timestamp": t, "environment": "production", "tags": [["service", "orders-api"]],
         "exception": {"values": [{"type": "DatabaseError"}]}}
    if user is not None:
        e["user"] = {"id": user}
    return json.dumps(e) + "\n"
newer = [event(base + 3600 + i) for i in range(3)]
older = [event(base + i) for i in range(8)]
open(sys.argv[1], "w").writelines(newer + older)
open(sys.argv[2], "w").writelines(event(base + i / 10, user=f"u{i}") for i in range(20))
PY
"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/late.jsonl" --format json \
  >"$WORK/late.out" 2>"$WORK/late.err" || fail "replay failed"
grep -q "11 events read, 0 rejected, 8 late" "$WORK/late.err" || fail "late: $(cat "$WORK/late.err")"
grep -q "8 late events were not evaluated" "$WORK/late.err" || fail "late: $(cat "$WORK/late.err")"

# Groups past the cap are dropped, and the run says so per rule.
cat >"$WORK/users.rules" <<'RULES'
rule per-user {
  when frequency > 5/min
  group by user.id
}
RULES
"$KLAXON_BIN" replay "$WORK/users.rules" --events "$WORK/many.jsonl" --max-groups 5 \
  >/dev/null 2>"$WORK/groups.err" || fail "replay failed"
grep -q "rule per-user: 15 groups dropped at the limit of 5 groups per rule (raise --max-groups)" \
  "$WORK/groups.err" || fail "groups dropped: $(cat "$WORK/groups.err")"

"$KLAXON_BIN" replay "$WORK/r.rules" >/dev/null 2>&1 && fail "missing --events accepted"
"$KLAXON_BIN" replay "$WORK/r.rules" --events "$WORK/nope.jsonl" >/dev/null 2>&1 &&
  fail "missing file accepted"
echo "replay cli: ok"

#!/usr/bin/env bash
# `klaxon replay --since` and `--until` look at part of a log without misreporting it:
# - an episode already firing at --since is counted (one episode, firing from --since to its
#   resolve), in the table and in the report, though its firing notification came before;
# - "events matched" counts only the events from --since on;
# - --until earlier than the log's end replays up to it (later events skipped and counted);
# - --since after --until is a usage error.
# The expectations come from the full replay's own notifications, not from the code under test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rules="$SRC/examples/rules"
log="$SRC/examples/events/outage.jsonl.gz"
since="2025-11-25T01:00:00Z"

"$KLAXON_BIN" replay "$rules" --events "$log" --rule checkout-silent --format json \
  >"$WORK/full.jsonl" 2>/dev/null
"$KLAXON_BIN" replay "$rules" --events "$log" --rule checkout-silent --since "$since" \
  >"$WORK/since.txt" 2>"$WORK/since.err"
"$KLAXON_BIN" replay "$rules" --events "$log" --rule checkout-silent --since "$since" \
  --report "$WORK/since.html" >/dev/null 2>&1
python3 - "$WORK/full.jsonl" "$WORK/since.txt" "$WORK/since.html" "$since" <<'PY'
import datetime, json, re, sys
def ms(t):
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
full = [json.loads(l) for l in open(sys.argv[1])]
since = ms(sys.argv[4])
# The oracle: the episode open at --since, and what happens after it.
open_at = [n for n in full if n["state"] == "firing" and ms(n["at"]) < since]
after = [n for n in full if ms(n["at"]) >= since]
assert open_at and after and after[0]["state"] == "resolved", (open_at, after)
firing_s = (ms(after[0]["at"]) - since) / 1000
row = [l for l in open(sys.argv[2]) if l.startswith("checkout-silent ")]
assert len(row) == 1, open(sys.argv[2]).read()
cols = row[0].split()
notifications, episodes, firing = int(cols[1]), int(cols[2]), cols[3]
assert notifications == len(after), (notifications, len(after))
assert episodes == 1, row
m = re.fullmatch(r"(?:(\d+)m)?(\d+)s", firing)
assert m and int(m.group(1) or 0) * 60 + int(m.group(2)) == int(firing_s), (firing, firing_s)
html = open(sys.argv[3]).read()
bands = [float(w) for w in re.findall(r'<rect class="firing" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', html)]
assert bands and max(bands) > 10, f"the firing band is a sliver: {bands}"
# A `< 1` count keeps one event time per group: its value axis says it counts up to 1.
assert "events in 10m, counted up to 1" in html, "the report does not say the value saturates"
print(f"--since: 1 episode carried in, {firing} firing, {notifications} notification(s)")
PY
# Events matched from --since on, not over the whole log.
whole=$("$KLAXON_BIN" replay "$rules" --events "$log" --rule checkout-silent 2>/dev/null |
  awk '$1 == "checkout-silent" {print $NF}')
part=$(awk '$1 == "checkout-silent" {print $NF}' "$WORK/since.txt")
[ "$part" -gt 0 ] && [ "$part" -lt "$whole" ] || fail "events matched: $part with --since, $whole without"

# --until before the end: nothing after it, and stderr says how many events were skipped.
until="2025-11-25T00:05:00Z"
"$KLAXON_BIN" replay "$rules" --events "$log" --until "$until" --format json \
  >"$WORK/until.jsonl" 2>"$WORK/until.err"
python3 - "$WORK/until.jsonl" "$until" <<'PY'
import datetime, json, sys
def ms(t):
    return int(datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
late = [n for n in map(json.loads, open(sys.argv[1])) if ms(n["at"]) > ms(sys.argv[2])]
assert not late, late[:3]
PY
grep -Eq "klaxon replay: [0-9]+ event\(s\) stamped after --until 2025-11-25T00:05:00.000Z not replayed" \
  "$WORK/until.err" || fail "no word of the skipped events: $(cat "$WORK/until.err")"
grep -q "events from .* to 2025-11-25T00:0[0-4]" "$WORK/until.err" ||
  fail "the range names a time past the last replayed event: $(grep 'events from' "$WORK/until.err")"

# --since after --until: a usage error.
set +e
"$KLAXON_BIN" replay "$rules" --events "$log" --since 2025-11-25T01:00:00Z \
  --until 2025-11-25T00:30:00Z >/dev/null 2>"$WORK/order.err"
code=$?
set -e
[ "$code" = 2 ] || fail "--since after --until exited $code"
grep -q -- "--since 2025-11-25T01:00:00.000Z is after --until" "$WORK/order.err" ||
  fail "$(cat "$WORK/order.err")"
echo "replay --since/--until: ok"

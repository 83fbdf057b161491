#!/usr/bin/env bash
# `klaxon replay --report`, looked at in a real browser (headless Chromium): the example rules
# over the recorded outage give one chart per rule, as many shaded firing bands per rule as its
# episodes make (overlaps merged), one mark per notification; event content that looks like
# markup is shown as text and never runs. Screenshots land in the build folder for a person.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps installs it)"
shots="${KLAXON_BUILD_DIR:-$WORK}/screenshots"
mkdir -p "$shots"
browse() {  # $1: html file, $2: screenshot name; prints the DOM as Chromium rendered it
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --screenshot="$shots/$2.png" --window-size=1000,1400 "file://$1" >/dev/null 2>&1 || true
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --dump-dom "file://$1" 2>/dev/null
}

"$KLAXON_BIN" replay "$SRC/examples/rules" --events "$SRC/examples/events/outage.jsonl.gz" \
  --until 2025-11-25T04:00:00Z --format json --report "$WORK/report.html" \
  >"$WORK/replay.jsonl" 2>"$WORK/replay.err" || fail "replay: $(cat "$WORK/replay.err")"
grep -q "events from 2025-11-25T" "$WORK/replay.err" || fail "no time range: $(cat "$WORK/replay.err")"
browse "$WORK/report.html" replay_report >"$WORK/dom.html"
[ -s "$shots/replay_report.png" ] || fail "no screenshot"
python3 - "$WORK/replay.jsonl" "$WORK/dom.html" "$SRC/examples/rules" <<'PY'
import glob, json, re, sys
notes = [json.loads(l) for l in open(sys.argv[1])]
dom = open(sys.argv[2]).read()
rules = []
for f in sorted(glob.glob(sys.argv[3] + "/*.rules")):
    rules += re.findall(r"^rule\s+([\w.-]+)", open(f).read(), re.M)
sections = re.findall(r'<section class="rule" id="rule-\d+">(.*?)</section>', dom, re.S)
assert len(sections) == len(rules), (len(sections), len(rules))
charts = dom.count('<svg class="chart"')
assert charts == len(rules), (charts, len(rules))
by_rule = {}
for n in notes:
    by_rule.setdefault(n["rule"], []).append(n)
total_bands = 0
for sec in sections:
    name = re.search(r"<h2>(.*?) <span", sec).group(1)
    mine = by_rule.get(name, [])
    marks = len(re.findall(r'class="mark (firing|repeat|resolved)"', sec))
    assert marks == len(mine), (name, marks, len(mine))
    bands = sec.count('<rect class="firing"')
    total_bands += bands
    fired = [n for n in mine if n["state"] == "firing"]
    if fired and "value" in fired[0] and "new " not in sec:
        assert bands >= 1, (name, "fired but no band")
    if not mine:
        assert bands == 0 and "never fired" in sec, name
assert total_bands >= 3, total_bands
print(f"report: {len(rules)} charts, {total_bands} firing bands, {len(notes)} marks")
PY

# --rule and --since: one rule, part of the log, over the same evaluation.
"$KLAXON_BIN" replay "$SRC/examples/rules" --events "$SRC/examples/events/outage.jsonl.gz" \
  --until 2025-11-25T04:00:00Z --format json --rule checkout-silent \
  --since 2025-11-25T01:00:00Z >"$WORK/part.jsonl" 2>/dev/null || fail "--rule/--since failed"
python3 - "$WORK/replay.jsonl" "$WORK/part.jsonl" <<'PY'
import json, sys
full = [json.loads(l) for l in open(sys.argv[1])]
part = [json.loads(l) for l in open(sys.argv[2])]
want = [n for n in full if n["rule"] == "checkout-silent" and n["at"] >= "2025-11-25T01:00:00"]
assert part == want and part, (part, want)
PY
"$KLAXON_BIN" replay "$SRC/examples/rules" --events "$SRC/examples/events/outage.jsonl.gz" \
  --rule checkout-silnt >/dev/null 2>"$WORK/rule.err" && fail "an unknown --rule was accepted"
grep -q "no rule \`checkout-silnt\`; did you mean \`checkout-silent\`?" "$WORK/rule.err" ||
  fail "unknown rule: $(cat "$WORK/rule.err")"

# Event content that looks like markup: shown as text, never run.
python3 - >"$WORK/hostile.jsonl" <<'PY'
import json
for i in range(6):
    print(json.dumps({"timestamp": 1764028800 + i, "level": "error",
                      "message": "<img src=x onerror=\"document.title='pwned'\">",
                      "tags": {"service": "<script>document.title='pwned'</script>"}}))
PY
cat >"$WORK/hostile.rules" <<'RULES'
action stdout = log(path: "-")
rule burst {
  when frequency > 3/min for level:error
  group by service
  then stdout
}
RULES
"$KLAXON_BIN" replay "$WORK/hostile.rules" --events "$WORK/hostile.jsonl" \
  --report "$WORK/hostile.html" >/dev/null 2>"$WORK/hostile.err" ||
  fail "hostile replay: $(cat "$WORK/hostile.err")"
browse "$WORK/hostile.html" replay_report_hostile >"$WORK/hostile.dom"
grep -q "<title>Klaxon replay report</title>" "$WORK/hostile.dom" || fail "the title changed"
grep -q "pwned</title>" "$WORK/hostile.dom" && fail "a script ran"
grep -qi "<script" "$WORK/hostile.dom" && fail "a script element made it into the page"
grep -q "service=&lt;script&gt;" "$WORK/hostile.dom" || fail "the group is not shown as text"
echo "replay report in a browser: ok"

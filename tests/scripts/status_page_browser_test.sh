#!/usr/bin/env bash
# The status page of a running `klaxon run` (file source: the recorded outage, then events
# whose tags and messages carry markup), opened in headless Chromium: the firing alerts the API
# lists are on the page, every rule has its row, the markup is shown as text and never runs.
# The page's silence form works with its CSRF token and is refused without it. A screenshot
# lands in the build folder for a person to look at.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps installs it)"
shots="${KLAXON_BUILD_DIR:-$WORK}/screenshots"
mkdir -p "$shots"

# The outage, then a burst of hostile events one second after its last event.
python3 - "$SRC/examples/events/outage.jsonl.gz" >"$WORK/events.jsonl" <<'PY'
import datetime, gzip, json, sys
last = 0
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        sys.stdout.write(line)
        t = json.loads(line)["timestamp"]
        if isinstance(t, str):  # the log mixes epoch seconds and RFC 3339, as SDKs do
            t = datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
        last = max(last, t)
for i in range(5):
    print(json.dumps({"timestamp": last + 1 + i * 0.01, "level": "fatal",
                      "message": "\"><img src=x onerror=\"document.title='pwned'\">",
                      "tags": {"service": "<script>document.title='pwned'</script>"}}))
PY
cat >"$WORK/rules.rules" <<'RULES'
action stdout = log(path: "-")
rule hostile-burst {
  when frequency > 3/min for level:fatal
  group by service
  then stdout
}
RULES
cat "$SRC/examples/config/local.rules" >>"$WORK/rules.rules"
sed -i '0,/^action stdout = log(path: "-")$/!{/^action stdout = log(path: "-")$/d}' "$WORK/rules.rules"
start_file_run rules.rules events.jsonl
admin=$ADMIN
# The burst is the log's last events: once its group fires, everything before it was evaluated
# (hostile-burst also fires for orders-api mid-outage, so the group is what tells; a sanitizer
# build takes many seconds to get there).
for _ in $(seq 300); do
  grep -q 'pwned' <<<"$(curl -s "$admin/api/v1/alerts")" && break
  sleep 0.2
done
curl -s "$admin/api/v1/alerts" >"$WORK/alerts.json"
grep -q 'pwned' "$WORK/alerts.json" || fail "the hostile burst never fired: $(cat "$WORK/alerts.json")"

dom() {
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --dump-dom "$admin/" 2>/dev/null
}
dom >"$WORK/page.html"
timeout 60 chromium --headless=new --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
  --screenshot="$shots/status_page.png" --window-size=1200,1400 "$admin/" >/dev/null 2>&1 || true
[ -s "$shots/status_page.png" ] || fail "no screenshot"
python3 - "$WORK/alerts.json" "$WORK/page.html" "$WORK/rules.rules" <<'PY'
import json, re, sys
alerts = json.load(open(sys.argv[1]))["data"]["alerts"]
page = open(sys.argv[2]).read()
rules = re.findall(r"^rule\s+([\w.-]+)", open(sys.argv[3]).read(), re.M)
rows = re.findall(r'<tr class="alert">(.*?)</tr>', page, re.S)
firing = [a for a in alerts if a["state"] == "firing"]
assert firing, alerts
assert len(rows) == len(alerts), (len(rows), len(alerts))
def esc(t):  # how the DOM serialises text: quotes stay as they are
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
for a in firing:
    assert any(f"<td>{a['rule']}</td>" in r and 'class="firing"' in r for r in rows), a["rule"]
# "triggered by": the title of the event that started each episode, escaped like all event text.
triggered = [a for a in alerts if a.get("trigger")]
assert triggered, "no alert names its triggering event"
for a in triggered:
    assert any(esc(a["trigger"]) in r for r in rows), a["trigger"]
hostile = [a for a in alerts if a["rule"] == "hostile-burst"]
assert hostile and hostile[0]["trigger"].startswith('"><img'), hostile
rule_rows = re.findall(r'<tr class="rule"><td>(.*?)</td>', page)
# Sparklines follow event time: the outage's database errors rose above their threshold and fell
# back, so that rule's line crosses its threshold line (smaller y is higher on the chart).
db = re.search(r'<tr class="rule"><td>orders-db-errors</td>.*?</tr>', page, re.S).group(0)
threshold_y = float(re.search(r'class="threshold"[^>]* y1="([\d.]+)"', db).group(1))
ys = [float(y) for y in re.findall(r'V([\d.]+)', re.search(r'class="value" d="([^"]+)"', db).group(1))]
xs = {x for x in re.findall(r'H([\d.]+)', re.search(r'class="value" d="([^"]+)"', db).group(1))}
assert min(ys) < threshold_y < max(ys), (threshold_y, min(ys), max(ys))
assert len(xs) > 20, f"the line has {len(xs)} distinct x positions"
assert sorted(rule_rows) == sorted(rules), (rule_rows, rules)
assert "<title>Klaxon</title>" in page, "the title changed: a script ran"
assert "<script" not in page.lower(), "a script element made it into the page"
assert "<img" not in page.lower(), "an img element made it into the page"
assert "service=&lt;script&gt;document.title='pwned'&lt;/script&gt;" in page, "group not shown as text"
print(f"status page: {len(rows)} alerts ({len(firing)} firing), {len(rule_rows)} rules")
PY

# The silence form: refused without the page's CSRF token, done with it.
csrf=$(sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$WORK/page.html" | head -1)
[ -n "$csrf" ] || fail "no CSRF token in the page"
code=$(curl -s -o "$WORK/nocsrf.html" -w '%{http_code}' "$admin/silences/new" \
  --data-urlencode "matchers=alertname=hostile-burst" -d duration=1h -d created_by=t -d comment=c)
[ "$code" = 403 ] || fail "a form without the CSRF token answered $code"
curl -s "$admin/silences/new" -d "csrf=$csrf" --data-urlencode "matchers=alertname=hostile-burst" \
  -d duration=1h -d created_by=oncall -d comment=noisy >"$WORK/added.html"
grep -q "Silence [0-9a-f-]* added until" "$WORK/added.html" || fail "not added: $(grep message "$WORK/added.html")"
grep -q 'alertname=&quot;hostile-burst&quot;' "$WORK/added.html" || fail "the silence is not listed"
[ "$(curl -s "$admin/api/v1/silences" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] ||
  fail "the API does not list the silence"
echo "status page in a browser: ok"

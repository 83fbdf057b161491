#!/usr/bin/env bash
# The status page's security headers (docs/operations.md, "Status page"): every page it serves
# over HTTP, the page itself and the answers to its forms (here a refused one), carries
# `Content-Security-Policy: default-src 'none'` allowing inline styles only (no script source
# of any kind) and `X-Frame-Options: DENY`, because event content on it is untrusted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

printf '{"timestamp": %s, "level": "error", "tags": {"service": "<b>api</b>"}}\n' \
  "$(date +%s)" >"$WORK/events.jsonl"
cat >"$WORK/rules.rules" <<'RULES'
action stdout = log(path: "-")
rule errors {
  when frequency > 0/min
  group by service
  then stdout
}
RULES
start_file_run rules.rules events.jsonl
admin=$ADMIN

# check NAME STATUS CURL_ARGS...: the response has STATUS, is HTML, and has the headers.
check() {
  local name=$1 status=$2
  shift 2
  curl -s -o "$WORK/$name.html" -D "$WORK/$name.headers" -w '%{http_code}' "$@" >"$WORK/$name.code"
  [ "$(cat "$WORK/$name.code")" = "$status" ] || fail "$name: status $(cat "$WORK/$name.code"), not $status"
  python3 - "$name" "$WORK/$name.headers" <<'PY'
import sys
name, path = sys.argv[1], sys.argv[2]
headers = {}
for line in open(path, newline="").read().split("\r\n")[1:]:
    if ":" in line:
        k, v = line.split(":", 1)
        headers.setdefault(k.strip().lower(), []).append(v.strip())
def one(k):
    v = headers.get(k, [])
    assert len(v) == 1, f"{name}: {k}: {v} (want exactly one)"
    return v[0]
assert one("content-type").startswith("text/html"), f"{name}: not HTML"
csp = {}
for d in one("content-security-policy").split(";"):
    words = d.split()
    if words:
        csp[words[0].lower()] = words[1:]
assert csp.get("default-src") == ["'none'"], f"{name}: default-src is {csp.get('default-src')}"
assert csp.get("style-src") == ["'unsafe-inline'"], f"{name}: style-src is {csp.get('style-src')}"
for d in ("script-src", "script-src-elem", "script-src-attr", "img-src", "connect-src",
          "frame-src", "object-src"):
    assert d not in csp, f"{name}: the policy allows {d} {csp[d]}"
assert one("x-frame-options").upper() == "DENY", f"{name}: X-Frame-Options {one('x-frame-options')}"
print(f"{name}: {one('content-security-policy')} | X-Frame-Options {one('x-frame-options')}")
PY
}

check page 200 "$admin/"
grep -q '&lt;b&gt;api&lt;/b&gt;\|errors' "$WORK/page.html" || fail "page: not the status page"
check refused-silence 403 -X POST --data 'csrf=wrong&matchers=service%3Dapi&duration=1h' \
  "$admin/silences/new"
check refused-expire 403 -X POST --data 'csrf=wrong&id=x' "$admin/silences/expire"
echo "status page security headers: ok"

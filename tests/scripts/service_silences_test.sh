#!/usr/bin/env bash
# Silences end to end, through `klaxon run` and `klaxon silence`: a silence created while a rule
# is about to fire keeps its notification from the receiver (counted as silenced, listed as
# active); another rule still notifies; the service restarts and the silence holds; expiring it
# delivers the held firing of the episode still open, under its original idempotency key. A
# service listening beyond loopback refuses mutating requests without the bearer token.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_receiver hook
export HOOK_URL="$RECEIVER_URL"
cat >"$WORK/rules.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"))
rule a-errors {
  when frequency > 2 in 10m for service:a
  group by service
  then hook
}
rule b-errors {
  when frequency > 2 in 10m for service:b
  then hook
}
RULES
: >"$WORK/events.jsonl"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [rules.rules]
source: file
file: {path: events.jsonl, follow: true}
outbox: {path: outbox.db, drain_timeout: 10s}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
emit() {  # $1: service, $2: count; events stamped with the current time
  python3 - "$1" "$2" >>"$WORK/events.jsonl" <<'PY'
import json, sys, time
for i in range(int(sys.argv[2])):
    print(json.dumps({"timestamp": round(time.time(), 3), "tags": {"service": sys.argv[1]}}))
PY
}
start_service() {
  : >"$WORK/run.log"
  "$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
  pid=$!
  PIDS+=($pid)
  for _ in $(seq 100); do grep -q 'admin server listening' "$WORK/run.log" && break; sleep 0.1; done
  admin="http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/run.log")"
  wait_http "$admin/-/ready" 10 || { cat "$WORK/run.log"; fail "never ready"; }
}
metric() {  # $1: metric line prefix; prints its value
  local text
  text="$(curl -s "$admin/metrics")"
  sed -n "s/^$1 //p" <<<"$text"
}
start_service

id=$("$KLAXON_BIN" silence add --url "$admin" alertname=a-errors 'service=~"a|c"' \
  --author oncall --comment "database maintenance" --duration 1h) || fail "silence add failed"
[[ "$id" =~ ^[0-9a-f-]{36}$ ]] || fail "silence add printed '$id'"
"$KLAXON_BIN" silence list --url "$admin" >"$WORK/list.txt"
grep -q "$id  active" "$WORK/list.txt" || fail "not listed as active: $(cat "$WORK/list.txt")"
# A selector as amtool takes it, and no $USER (containers, cron): the login name is the author.
id2=$(env -u USER "$KLAXON_BIN" silence add --url "$admin" '{alertname="zz-none", service=~"x|y"}' \
  --comment "selector") || fail "silence add without \$USER failed"
curl -s "$admin/api/v1/silences/$id2" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["createdBy"] == sys.argv[1], s["createdBy"]
assert [(m["name"], m["value"], m["isRegex"]) for m in s["matchers"]] == \
    [("alertname", "zz-none", False), ("service", "x|y", True)], s["matchers"]' "$(id -un)" ||
  fail "the selector or the author was not taken"
"$KLAXON_BIN" silence expire --url "$admin" "$id2" >/dev/null || fail "expire $id2"
grep -q 'alertname="a-errors" service=~"a|c"' "$WORK/list.txt" || fail "matchers not listed"

emit a 3
emit b 3
wait_lines "$WORK/hook.jsonl" 1 20 || { tail "$WORK/run.log"; fail "b-errors did not notify"; }
for _ in $(seq 50); do [ "$(metric klaxon_notifications_silenced_total)" = 1 ] && break; sleep 0.1; done
[ "$(metric klaxon_notifications_silenced_total)" = 1 ] ||
  fail "silenced count $(metric klaxon_notifications_silenced_total)"
sleep 1
[ "$(wc -l <"$WORK/hook.jsonl")" = 1 ] || fail "a silenced notification was delivered"
python3 - "$WORK/hook.jsonl" <<'PY'
import json, sys
b = json.loads(open(sys.argv[1]).readline())["body"]
assert b["rule"]["name"] == "b-errors", b
PY

# A restart: the silence and the held episode survive.
kill -TERM "$pid"
wait "$pid" || fail "exit code $?"
start_service
[ "$(metric 'klaxon_silences{state="active"}')" = 1 ] || fail "silence lost across the restart"
sleep 1
[ "$(wc -l <"$WORK/hook.jsonl")" = 1 ] || fail "delivered after the restart despite the silence"

# Expiring it: the episode is still firing, so its firing notification goes out now.
"$KLAXON_BIN" silence expire --url "$admin" "$id" | grep -q "expired $id" || fail "expire failed"
wait_lines "$WORK/hook.jsonl" 2 20 || { tail "$WORK/run.log"; fail "held firing not delivered"; }
python3 - "$WORK/hook.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
b = lines[1]["body"]
assert b["rule"]["name"] == "a-errors" and b["state"] == "firing", b
ids = [l["headers"]["webhook-id"] for l in lines]
assert len(set(ids)) == len(ids), ids
PY
"$KLAXON_BIN" silence expire --url "$admin" "$id" 2>"$WORK/expire.err" && fail "expired twice"
grep -q "has already expired" "$WORK/expire.err" || fail "no reason: $(cat "$WORK/expire.err")"
"$KLAXON_BIN" silence add --url "$admin" 'service=~".*"' --author x --comment y \
  2>"$WORK/add.err" && fail "a silence muting everything was accepted"
grep -q "must not match the empty string" "$WORK/add.err" || fail "no reason: $(cat "$WORK/add.err")"
kill -TERM "$pid"
wait "$pid" || fail "exit code $?"

# Beyond loopback, mutating requests need the token.
printf 's3cret\n' >"$WORK/token"
cat >>"$WORK/klaxon.yaml" <<YAML
YAML
sed -i 's|admin: {listen: "127.0.0.1:0"}|admin: {listen: ":0", token_file: token}|' "$WORK/klaxon.yaml"
start_service
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$admin/api/v1/silences" -d '{}')
[ "$code" = 401 ] || fail "a silence without the token answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$admin/api/v1/silences/$id")
[ "$code" = 401 ] || fail "an expiry without the token answered $code"
"$KLAXON_BIN" silence add --url "$admin" --token-file "$WORK/token" alertname=b-errors \
  --author oncall --comment "with the token" >/dev/null || fail "the token was refused"
"$KLAXON_BIN" silence add --url "$admin" alertname=b-errors --author oncall --comment "no token" \
  2>"$WORK/notoken.err" && fail "accepted without the token"
grep -q "answered 401" "$WORK/notoken.err" || fail "no 401: $(cat "$WORK/notoken.err")"
curl -sf "$admin/api/v1/silences" >/dev/null || fail "reading needs no token"
kill -TERM "$pid"
wait "$pid" || true
echo "silences: ok"

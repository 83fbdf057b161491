#!/usr/bin/env bash
# klaxon run, reloading rules: a broken rule file keeps the old rules running (and says so in
# the reload metric); a reload that changes one rule keeps the others' window state, so an alert
# halfway to its threshold still fires on time. Then SIGTERM with a slow receiver: readiness
# drops at once, the notification in flight is delivered, and the process exits 0 in time.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_receiver hook --delay 2
export HOOK_URL="$RECEIVER_URL"
write_rules() {  # $1: threshold of the second rule
  cat >"$WORK/rules.rules" <<RULES
action hook = webhook(url: env("HOOK_URL"))
rule a-errors {
  when frequency > 5/min for service:a
  then hook
}
rule b-errors {
  when frequency > $1/min for service:b
  then hook
}
RULES
}
write_rules 2
: >"$WORK/events.jsonl"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [rules.rules]
source: file
file: {path: events.jsonl, follow: true}
outbox: {path: outbox.db, drain_timeout: 20s}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0", enable_reload: true}
YAML
emit() {  # $1: service, $2: count; events stamped with the current time
  python3 - "$1" "$2" >>"$WORK/events.jsonl" <<'PY'
import json, sys, time
for i in range(int(sys.argv[2])):
    print(json.dumps({"timestamp": round(time.time(), 3), "tags": {"service": sys.argv[1]}}))
PY
}
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
pid=$!
PIDS+=($pid)
for _ in $(seq 100); do grep -q 'admin server listening' "$WORK/run.log" && break; sleep 0.1; done
admin="http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$WORK/run.log")"
wait_http "$admin/-/ready" 10 || fail "never ready"

emit a 3
sleep 0.5
# A broken rule file: the reload fails, the old rules keep running.
printf 'rule broken {\n  when frequency > 5/min for\n}\n' >"$WORK/rules.rules"
kill -HUP "$pid"
for _ in $(seq 50); do grep -q 'reload failed' "$WORK/run.log" && break; sleep 0.1; done
grep -q 'reload failed' "$WORK/run.log" || fail "broken reload not reported"
for _ in $(seq 50); do
  grep -q '^klaxon_config_last_reload_successful 0$' <<<"$(curl -s "$admin/metrics")" && break
  sleep 0.1
done
grep -q '^klaxon_config_last_reload_successful 0$' <<<"$(curl -s "$admin/metrics")" || {
  tail -20 "$WORK/run.log"
  fail "reload metric not 0"
}
grep -q '"name":"a-errors"' <<<"$(curl -s "$admin/api/v1/rules")" || fail "old rules gone"
# Each rule is listed with its id (engine/rule_id.cpp), not "".
curl -s "$admin/api/v1/rules" | grep -Eq '"name":"a-errors","id":"[0-9a-f]{16}"' ||
  fail "no rule id: $(curl -s "$admin/api/v1/rules")"

# A reload over HTTP that changes only b-errors.
write_rules 3
code=$(curl -s -o "$WORK/reload.out" -w "%{http_code}" -X POST "$admin/-/reload")
[ "$code" = 200 ] || fail "reload refused: $code $(cat "$WORK/reload.out")"
# (The whole answer is read first: grep -q closing the pipe early makes curl fail under pipefail.)
grep -q '^klaxon_config_last_reload_successful 1$' <<<"$(curl -s "$admin/metrics")" ||
  fail "reload metric not 1"
grep -q '"name":"b-errors"' <(curl -s "$admin/api/v1/rules") || fail "new rules missing"

# Three more events: a-errors kept the first three, so it fires with six.
emit a 3
wait_lines "$WORK/hook.jsonl" 1 20 || { tail "$WORK/run.log"; fail "a-errors did not fire after the reload"; }
python3 - "$WORK/hook.jsonl" <<'PY'
import json, sys
b = json.loads(open(sys.argv[1]).readline())["body"]
assert b["rule"]["name"] == "a-errors" and b["state"] == "firing" and b["value"] == 6, b
PY

# A reload is not a restart: counters never go down, the page keeps its notifications.
metric() { sed -n "s/^$1 //p" <<<"$(curl -s "$admin/metrics")"; }
for _ in $(seq 50); do [ "$(metric klaxon_notifications_sent_total)" = 1 ] && break; sleep 0.1; done
[ "$(metric klaxon_notifications_sent_total)" = 1 ] || fail "sent: $(metric klaxon_notifications_sent_total)"
code=$(curl -s -o /dev/null -w "%{http_code}" -X POST "$admin/-/reload")
[ "$code" = 200 ] || fail "second reload refused: $code"
sleep 0.5  # the next snapshot
[ "$(metric klaxon_notifications_sent_total)" = 1 ] ||
  fail "a reload reset klaxon_notifications_sent_total to $(metric klaxon_notifications_sent_total)"
page="$(curl -s "$admin/")"
grep -q '<td>a-errors</td>' <<<"$(sed -n '/id="notifications"/,/id="silences"/p' <<<"$page")" ||
  fail "the status page forgot the notification at a reload"

# SIGTERM while a slow delivery is in flight.
emit b 4
for _ in $(seq 50); do grep -q 'rule=b-errors state=firing' "$WORK/run.log" && break; sleep 0.1; done
start=$(date +%s%N)
kill -TERM "$pid"
for _ in $(seq 40); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/ready")" != 200 ] && break
  sleep 0.05
done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ready_ms" -lt 2000 ] || fail "readiness took ${ready_ms} ms to drop"
wait "$pid" || fail "exit code $?"
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 20000 ] || fail "shutdown took ${elapsed} ms"
[ "$(wc -l <"$WORK/hook.jsonl")" -ge 2 ] || fail "the in-flight notification was not delivered"
echo "reload and shutdown: ok (ready dropped in ${ready_ms} ms, exit after ${elapsed} ms)"

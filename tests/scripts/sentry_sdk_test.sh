#!/usr/bin/env bash
# The real Sentry SDK (sentry-sdk from PyPI, in the venv of the sentry_venv fixture) reports to
# `klaxon run` with `source: sentry`, unchanged but for SENTRY_DSN. The notifications equal those
# computed by hand and those of `klaxon replay` over the captured events. Then bad input on the
# same endpoint: clear status codes, bounded memory, and a normal request still answered.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KLAXON_BUILD_DIR:?}"
PY="$KLAXON_BUILD_DIR/venv/bin/python"
[ -x "$PY" ] || fail "no venv at $KLAXON_BUILD_DIR/venv (the sentry_venv fixture makes it)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
ADMIN=$(free_port)
KEY=0123456789abcdef0123456789abcdef

cat >"$WORK/sdk.rules" <<RULES
action out = log(path: "$WORK/notifications.jsonl")

rule value-errors {
  when frequency > 2 in 1m for exception.type:ValueError
  group by user.id
  then out
}
rule errors-by-release {
  when frequency > 5 in 1m for level:error
  group by release
  then out
}
rule payment-timeouts {
  when frequency > 0 in 1m for exception.type:KeyError AND tags[service]:orders-api
  group by environment
  then out
}
rule db-logging {
  when frequency > 0 in 1m for logger:orders.db
  then out
}
rule crash {
  when frequency > 0 in 1m for exception.type:ZeroDivisionError
  then out
}
RULES
cat >"$WORK/klaxon.yaml" <<YAML
rules: [sdk.rules]
source: sentry
sentry:
  listen: "127.0.0.1:$PORT"
  projects:
    - {id: 42, name: orders-api, keys: ["\${ORDERS_DSN_KEY}"]}
  capture: captured.jsonl
  max_request_bytes: 4MiB
  request_timeout: 3s
  read_timeout: 1s
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:$ADMIN"}
YAML
ORDERS_DSN_KEY=$KEY "$KLAXON_BIN" check --config "$WORK/klaxon.yaml" >/dev/null ||
  fail "klaxon check --config refused the configuration"
ORDERS_DSN_KEY=$KEY "$KLAXON_BIN" run --config "$WORK/klaxon.yaml" >"$WORK/run.log" 2>&1 &
KLAXON_PID=$!
PIDS+=($KLAXON_PID)
wait_http "http://127.0.0.1:$ADMIN/-/ready" 20 || fail "klaxon run not ready: $(tail -5 "$WORK/run.log")"

# The SDK service: its unhandled crash makes it exit 1.
rc=0
SENTRY_DSN="http://$KEY@127.0.0.1:$PORT/42" "$PY" "$SRC/tests/scripts/sentry_sdk_app.py" \
  >"$WORK/app.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "the SDK app exited $rc, want 1: $(tail -5 "$WORK/app.log")"
wait_lines "$WORK/captured.jsonl" 6 10 || fail "captured $(wc -l <"$WORK/captured.jsonl") events, want 6"
[ "$(wc -l <"$WORK/captured.jsonl")" = 6 ] || fail "captured $(wc -l <"$WORK/captured.jsonl") events, want 6"
touch "$WORK/notifications.jsonl"
wait_lines "$WORK/notifications.jsonl" 5 30 || fail "only $(wc -l <"$WORK/notifications.jsonl") notifications: $(cat "$WORK/notifications.jsonl")"

# Every event carries its project; the SDK's fields arrive as sent.
python3 - "$WORK/captured.jsonl" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
for e in events:
    assert e["project"] == "orders-api" and e["project_id"] == 42, e
    assert e["release"] == "shop@1.2.3" and e["environment"] == "test", e
    assert e["user"]["id"] == "u-17", e["user"]
    assert e["tags"]["service"] == "orders-api", e["tags"]
    assert len(e["event_id"]) == 32, e["event_id"]
types = [v["type"] for e in events for v in e.get("exception", {}).get("values", [])]
assert types == ["ValueError"] * 3 + ["KeyError", "ZeroDivisionError"], types
assert [e.get("fingerprint") for e in events if "KeyError" in json.dumps(e.get("exception"))] == [["payment-timeout"]]
crash = events[-1]["exception"]["values"][-1]["mechanism"]
assert crash["handled"] is False, crash
log = [e for e in events if e.get("logger") == "orders.db"]
assert len(log) == 1 and log[0]["logentry"]["params"] == ["orders-db"], log
PY

# firing KEYS: (rule, group) of the firing notifications, and with their times.
firing() { python3 -c '
import json, sys
for line in sys.stdin:
    n = json.loads(line)
    if n["state"] == "firing":
        print(n["rule"], json.dumps(n["group"], sort_keys=True), *sys.argv[1:2] and [n["at"]])' "$@"; }

# By hand: 3 ValueErrors of user u-17 (> 2); 6 errors of release shop@1.2.3 (3 ValueErrors, the
# KeyError, the logging error and the crash: > 5); the KeyError; the logging error; the crash.
cat >"$WORK/hand" <<'HAND'
crash {}
db-logging {}
errors-by-release {"release": "shop@1.2.3"}
payment-timeouts {"environment": "test"}
value-errors {"user.id": "u-17"}
HAND
firing <"$WORK/notifications.jsonl" | sort >"$WORK/run_keys"
diff "$WORK/hand" "$WORK/run_keys" || fail "klaxon run's notifications differ from the hand-computed ones"

# klaxon replay over the captured events gives the same notifications, at the same times.
"$KLAXON_BIN" replay "$WORK/sdk.rules" --events "$WORK/captured.jsonl" --format json >"$WORK/replay.jsonl"
firing at <"$WORK/replay.jsonl" | sort >"$WORK/replay_at"
firing at <"$WORK/notifications.jsonl" | sort >"$WORK/run_at"
diff "$WORK/replay_at" "$WORK/run_at" || fail "klaxon run and klaxon replay differ"

# ---- Bad input on the same endpoint ----
URL="http://127.0.0.1:$PORT/api/42/envelope/"
AUTH="X-Sentry-Auth: Sentry sentry_key=$KEY, sentry_version=7"
status() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
ok_envelope=$'{}\n{"type":"event"}\n{"message":"ok","level":"info"}\n'
[ "$(status -H "$AUTH" --data-binary "$ok_envelope" "$URL")" = 200 ] || fail "a normal envelope: $(cat "$WORK/body")"
[ "$(status -H 'X-Sentry-Auth: Sentry sentry_key=wrong' --data-binary "$ok_envelope" "$URL")" = 401 ] ||
  fail "wrong key: $(cat "$WORK/body")"
grep -q "invalid public key" "$WORK/body" || fail "wrong key body: $(cat "$WORK/body")"
[ "$(status --data-binary "$ok_envelope" "$URL")" = 401 ] || fail "no key"
[ "$(status -H "$AUTH" --data-binary "$ok_envelope" "http://127.0.0.1:$PORT/api/99/envelope/")" = 403 ] ||
  fail "unknown project: $(cat "$WORK/body")"
[ "$(status -H "$AUTH" --data-binary '{"event_id": ' "$URL")" = 400 ] || fail "malformed envelope"
grep -q "invalid envelope" "$WORK/body" || fail "malformed body: $(cat "$WORK/body")"
# A huge item: 2 MiB event (past max_event_bytes 1MiB).
python3 -c 'import sys; e="{\"m\":\"" + "x"*(2<<20) + "\"}"; sys.stdout.write("{}\n{\"type\":\"event\",\"length\":%d}\n%s\n" % (len(e), e))' >"$WORK/huge"
[ "$(status -H "$AUTH" --data-binary @"$WORK/huge" "$URL")" = 413 ] || fail "huge item: $(cat "$WORK/body")"
# A gzip bomb: 1 GiB of zeros, about 1 MiB compressed.
head -c 1073741824 /dev/zero | gzip -6 >"$WORK/bomb.gz"
[ "$(status -H "$AUTH" -H 'Content-Encoding: gzip' --data-binary @"$WORK/bomb.gz" "$URL")" = 413 ] ||
  fail "gzip bomb: $(cat "$WORK/body")"

# 16 slow clients trickling bodies; a normal request is answered meanwhile, and they are cut off.
python3 - "$PORT" "$KEY" "$URL" <<'PY' || fail "slow clients"
import socket, sys, threading, time, urllib.request
port, key, url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for _ in range(16):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST /api/42/envelope/ HTTP/1.1\r\nHost: x\r\nX-Sentry-Auth: Sentry sentry_key=%s\r\n"
               "Content-Length: 100000\r\n\r\n{}" % key).encode())
    socks.append(s)
stop = False
def trickle():
    while not stop:
        for s in socks:
            try: s.send(b"\n")
            except OSError: pass
        time.sleep(0.2)
t = threading.Thread(target=trickle); t.start()
time.sleep(0.5)
start = time.time()
req = urllib.request.Request(url, data=b'{}\n{"type":"event"}\n{"message":"meanwhile"}\n',
                             headers={"X-Sentry-Auth": "Sentry sentry_key=" + key})
assert urllib.request.urlopen(req, timeout=5).status == 200
took = time.time() - start
assert took < 1.0, "a normal request took %.2fs beside 16 slow clients" % took
time.sleep(3.5)
stop = True; t.join()
cut = 0
for s in socks:
    s.settimeout(1)
    try:
        if s.recv(64).startswith(b"HTTP/1.1 4"): cut += 1
    except OSError: pass
    s.close()
assert cut == 16, "%d of 16 slow clients were answered" % cut
PY

# Memory stayed bounded through all of it (peak resident set of klaxon run).
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$KLAXON_PID/status")
[ "$hwm" -lt 262144 ] || fail "klaxon run peaked at ${hwm} KiB"

# The ingestion metrics are on /metrics.
curl -s "http://127.0.0.1:$ADMIN/metrics" >"$WORK/metrics"
grep -q 'klaxon_ingest_events_accepted_total{project="orders-api"} 8' "$WORK/metrics" ||
  fail "events accepted: $(grep klaxon_ingest_events "$WORK/metrics")"
for s in 401 403 400 413; do
  grep -q "klaxon_ingest_requests_total{endpoint=\"envelope\",status=\"$s\"}" "$WORK/metrics" ||
    fail "no requests with status $s in /metrics"
done
# And on the status page's health table (from a snapshot published every 200 ms).
sleep 0.5
curl -s "http://127.0.0.1:$ADMIN/" >"$WORK/page.html"
grep -Eq '<th>sentry ingestion</th><td>[0-9]+ requests, 8 events accepted, [0-9]+ items dropped' \
  "$WORK/page.html" || fail "status page health: $(grep -o 'sentry ingestion[^/]*' "$WORK/page.html")"
kill -TERM "$KLAXON_PID"
wait "$KLAXON_PID" || fail "klaxon run exited $?"
echo "ok: sentry-sdk events, parity with replay (peak RSS ${hwm} KiB)"

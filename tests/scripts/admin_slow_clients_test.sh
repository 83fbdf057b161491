#!/usr/bin/env bash
# The admin server under slow clients: 64 clients that trickle a request one byte at a time and
# reconnect as soon as they are cut off must not starve a liveness probe. /-/healthy answers
# within 1 s throughout (before: ~40 such clients timed the probe out; httplib's pool waited
# on each for a per-read timeout, and its listen backlog of 5 dropped SYNs). Also keep-alive
# and a request body still work.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

printf 'action out = log(path: "-")\nrule r {\n  when frequency > 5/min\n  then out\n}\n' \
  >"$WORK/a.rules"
: >"$WORK/events.jsonl"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [a.rules]
source: file
file: {path: events.jsonl, follow: true}
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:0"}
YAML
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
PIDS+=($!)
port="$(admin_port "$WORK/run.log")"
[ -n "$port" ] || fail "no admin port: $(cat "$WORK/run.log")"
wait_http "http://127.0.0.1:$port/-/healthy" 10 || fail "never healthy"

python3 - "$port" <<'PY' || fail "the admin server starved under slow clients"
import http.client, socket, sys, threading, time

port = int(sys.argv[1])
stop = threading.Event()
cut = [0]

def slow_client():
    request = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            for b in request:
                if stop.is_set():
                    break
                s.send(bytes([b]))
                time.sleep(0.2)
        except OSError:
            cut[0] += 1  # cut off: reconnect at once, as an attacker would
        finally:
            try:
                s.close()
            except Exception:
                pass

threads = [threading.Thread(target=slow_client, daemon=True) for _ in range(64)]
for t in threads:
    t.start()
time.sleep(3)  # every worker is taken by now
worst = 0.0
failures = 0
for _ in range(30):
    start = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        c.request("GET", "/-/healthy")
        r = c.getresponse()
        ok = r.status == 200 and r.read() == b"Klaxon is Healthy.\n"
        c.close()
    except OSError as e:
        ok = False
    took = time.monotonic() - start
    worst = max(worst, took)
    if not ok or took > 1.0:
        failures += 1
    time.sleep(0.2)
# Keep-alive: several requests on one connection, while the slow clients go on.
c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
for _ in range(3):
    c.request("GET", "/-/healthy")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"Klaxon is Healthy.\n"
c.close()
stop.set()
print(f"probes: 30, failed or slower than 1 s: {failures}, worst {worst:.3f} s, "
      f"slow connections cut: {cut[0]}")
sys.exit(1 if failures else 0)
PY
curl -sf -o "$WORK/metrics" "http://127.0.0.1:$port/metrics" || fail "no metrics after the flood"
grep -q '^klaxon_' "$WORK/metrics" || fail "metrics after the flood: $(head -5 "$WORK/metrics")"
echo "admin slow clients: ok"

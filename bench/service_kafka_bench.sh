#!/usr/bin/env bash
# End-to-end Kafka benchmark of `klaxon run`, in one run on one machine:
#   1. produces N generated ~1.6 KB Sentry-style events (the outage story, repeated with shifted
#      times) to a topic on a local Apache Kafka broker (scripts/kafka-broker);
#   2. raw consume rate of that topic: kcat reading it from the start to the end;
#   3. Klaxon's end-to-end rate over the same topic with 100 rules (a new consumer group),
#      from its first event to its last, read from /metrics;
#   4. latency from a message's broker timestamp to its notification in the outbox, at a
#      steady rate (default 10,000 events/s), with allowed_lateness 0 (the lateness hold-back
#      adds exactly its own length on top and is reported separately).
# usage: bench/service_kafka_bench.sh BUILD_DIR [EVENTS] [RATE]
set -euo pipefail
build=${1:-build/release}
events=${2:-1000000}
rate=${3:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
klaxon="$root/$build/cli/klaxon"
[ -x "$klaxon" ] || klaxon="$build/cli/klaxon"
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-kafka-bench.XXXXXX")
export KLAXON_KAFKA_RUN="$work/kafka"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$root/scripts/kafka-broker" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
brokers=$("$root/scripts/kafka-broker" start | sed -n 's/^KAFKA_BROKERS=//p')

# 100 rules: counts with group by over services, exception types, levels and environments.
python3 - >"$work/bench.rules" <<'PY'
services = ["orders-api", "checkout", "payments", "auth", "search"]
types = ["DatabaseError", "ValidationError", "TimeoutError", "KeyError", "CartExpired", "CardDeclined",
         "GatewayTimeout", "LoginFailed", "TokenExpired", "IndexMissing", "QueryTimeout"]
print('action sink = log(path: "/dev/null")')
n = 0
for s in services:
    for t in types:
        for threshold in (50, 500):
            if n == 100:
                break
            print(f"rule r{n} {{\n  when frequency > {threshold}/5m for service:{s} AND exception.type:{t}\n"
                  f"  group by environment\n  then sink\n}}")
            n += 1
while n < 100:
    print(f"rule r{n} {{\n  when frequency > 100/min for level:fatal AND environment:staging AND release:v{n}\n  then sink\n}}")
    n += 1
PY
"$klaxon" check "$work/bench.rules" >/dev/null

echo "producing $events events to a local broker..." >&2
"$root/bench/repeat_outage.py" "$events" | kcat -P -b "$brokers" -t bench -X linger.ms=50 -X batch.num.messages=10000 \
  -X queue.buffering.max.messages=1000000
bytes=$(kcat -C -b "$brokers" -t bench -o -1 -e -q | wc -c)

echo "raw consume (kcat)..." >&2
got=$(kcat -C -b "$brokers" -t bench -o beginning -e -q | wc -l)  # count once, untimed
# Timed: straight to /dev/null (a pipe into `wc` would be the bottleneck), with the same fetch
# buffer Klaxon's consumer uses (connectors/kafka_source.cpp), so both read the topic alike.
# `-c` stops at the last message: with `-e` alone kcat would also wait out one empty fetch at
# the end of the topic (fetch.wait.max.ms, 500 ms), a quarter of its whole run here.
t0=$(date +%s%N)
kcat -C -b "$brokers" -t bench -o beginning -c "$got" -e -q -X queued.max.messages.kbytes=262144 \
  -X queued.min.messages=1000000 >/dev/null
t1=$(date +%s%N)
raw_rate=$(python3 -c "print(round($got / (($t1 - $t0) / 1e9)))")

echo "klaxon run with 100 rules..." >&2
cat >"$work/klaxon.yaml" <<YAML
rules: [$work/bench.rules]
source: kafka
kafka: {brokers: $brokers, topics: [bench], group_id: klaxon-bench, statistics_interval: 1s}
outbox: {path: $work/outbox.db}
admin: {listen: "127.0.0.1:0"}
log: {level: warn}
YAML
"$klaxon" run --config "$work/klaxon.yaml" --log.level=info 2>"$work/run.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'admin server listening' "$work/run.log" && break; sleep 0.05; done
admin="http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$work/run.log")"
# One Python process polls /metrics every 20 ms over a kept-alive connection: forking curl for
# each poll would cost about 13 ms of CPU a time here, CPU taken from Klaxon mid-measurement.
# Klaxon publishes its counters every 200 ms, so the rate is taken between the first published
# count above 0 and the last one below the total, each at the poll that first saw it: both ends
# are then equally late (at most one poll), and no end waits for a publication after the last
# event.
klaxon_rate=$(python3 - "$admin" "$got" <<'PY'
import http.client, sys, time, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
total = int(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
def received():
    conn.request("GET", "/metrics")
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith("klaxon_events_received_total "):
            return int(float(line.split()[1]))
    return 0
seen = []  # (first time seen, count) of each published count
while True:
    n, now = received(), time.monotonic()
    if n > 0 and (not seen or n != seen[-1][1]):
        seen.append((now, n))
    if n >= total:
        break
    time.sleep(0.02)
inside = [s for s in seen if s[1] < total]
(t0, n0), (t1, n1) = (inside[0], inside[-1]) if len(inside) >= 2 else (seen[0], seen[-1])
if t1 <= t0:
    sys.exit("too few samples of klaxon_events_received_total to time the run")
print(round((n1 - n0) / (t1 - t0)))
PY
)
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || true

echo "latency at $rate events/s..." >&2
cat >"$work/latency.rules" <<'RULES'
action sink = log(path: "/dev/null")
rule every-fatal {
  when level:fatal
  then sink
}
RULES
sed -i "s|rules: \[.*\]|rules: [$work/latency.rules]|; s|topics: \[bench\]|topics: [live]|; s|klaxon-bench|klaxon-live|" "$work/klaxon.yaml"
echo '{"warm":"up"}' | kcat -P -b "$brokers" -t live  # the topic exists before Klaxon subscribes
"$klaxon" run --config "$work/klaxon.yaml" --engine.allowed_lateness=0s --log.level=info \
  2>"$work/run2.log" &
pids+=($!)
for _ in $(seq 200); do grep -q 'admin server listening' "$work/run2.log" && break; sleep 0.05; done
admin="http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$work/run2.log")"
# Measure from the moment the consumer owns the partitions (joining the group is not latency).
for _ in $(seq 600); do curl -sf "$admin/-/ready" >/dev/null && break; sleep 0.05; done
# Steady rate, event time = now, 1% of the events notify.
python3 - "$rate" <<'PY' | kcat -P -b "$brokers" -t live -X linger.ms=1
import json, sys, time
rate = int(sys.argv[1])
pad = "x" * 1300
start = time.time()
n = 0
while n < rate * 20:
    target = start + n / rate
    delay = target - time.time()
    if delay > 0:
        time.sleep(delay)
    for _ in range(max(1, rate // 1000)):
        level = "fatal" if n % 100 == 0 else "error"
        print(json.dumps({"timestamp": round(time.time(), 3), "level": level,
                          "tags": {"service": "orders-api"}, "message": pad}))
        n += 1
    sys.stdout.flush()
PY
sleep 2
hist=$(curl -s "$admin/metrics" | grep "^klaxon_notification_outbox_latency_seconds_bucket" || true)
[ -n "$hist" ] || { tail -5 "$work/run2.log" >&2; echo "no latency metric" >&2; exit 1; }
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || true
quantiles=$(python3 - "$hist" <<'PY'
import re, sys
buckets = []
for line in sys.argv[1].splitlines():
    m = re.match(r'.*le="([^"]+)"\} (\d+)', line)
    buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)), int(m.group(2))))
total = buckets[-1][1]
def q(p):
    for le, c in buckets:
        if c >= p * total:
            return le
print(f"samples={total} p50<={q(0.5)*1000:g}ms p99<={q(0.99)*1000:g}ms")
PY
)
ratio=$(python3 -c "print(round(100 * $klaxon_rate / $raw_rate))")
echo "events: $got ($(python3 -c "print(round($bytes))") bytes in the last message)"
echo "raw consume (kcat):          $raw_rate events/s"
echo "klaxon run, 100 rules:       $klaxon_rate events/s ($ratio % of raw)"
echo "outbox latency at $rate/s:  $quantiles (allowed_lateness 0s; add the configured lateness)"

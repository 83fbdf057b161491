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
. "$(dirname "$0")/kafka_bench_lib.sh"

# 100 rules: counts with group by over services, exception types, levels and environments.
"$root/bench/bench_rules.py" >"$work/bench.rules"
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
# Polled by one Python process every 20 ms (bench/klaxon_rate.py says why and how).
klaxon_rate=$("$root/bench/klaxon_rate.py" "$admin" "$got")
kill -TERM "${pids[-1]}"; wait "${pids[-1]}" || true

echo "latency at $rate events/s..." >&2
cat >"$work/latency.rules" <<'RULES'
action sink = log(path: "/dev/null")
rule every-fatal {
  when level:fatal
  then sink
}
RULES
sed -i "s|rules: \[.*\]|rules: [$work/latency.rules]|; s|topics: \[bench\]|topics: [live]|; s|klaxon-bench|klaxon-live|; s|outbox.db|outbox-live.db|" "$work/klaxon.yaml"
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

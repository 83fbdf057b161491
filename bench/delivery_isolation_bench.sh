#!/usr/bin/env bash
# Evaluation never waits for delivery: `klaxon run` over a file of N events whose rules send
# about one notification per 100 events to a webhook, once with a receiver that answers at
# once and once with one that answers after 1 s. Reports the evaluation rate of both (from the
# first log line to "shutting down", i.e. before the outbox drains) and their ratio.
# usage: bench/delivery_isolation_bench.sh BUILD_DIR [EVENTS] [ROUNDS]
set -euo pipefail
build=${1:-build/release}
events=${2:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
klaxon="$root/$build/cli/klaxon"
[ -x "$klaxon" ] || klaxon="$build/cli/klaxon"
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-delivery-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$root/bench/repeat_outage.py" "$events" --numbered >"$work/events.jsonl"
cat >"$work/rules.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"))
rule payments-gateway-timeouts {
  when service:payments AND exception.type:GatewayTimeout
  then hook
}
RULES

run_with_delay() {  # $1: receiver delay in seconds; writes "events/s notifications" to $work/rN
  local delay=$1 dir
  dir=$(mktemp -d "$work/d$1.XXXXXX")  # a fresh outbox per run
  mkdir -p "$dir"
  python3 "$root/tests/scripts/receiver.py" --out "$dir/hook.jsonl" --port-file "$dir/port" \
    --delay "$delay" >/dev/null 2>&1 &
  pids+=($!)
  disown $!  # killed at exit without bash's "Killed" notice
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
  cat >"$dir/klaxon.yaml" <<YAML
rules: [$work/rules.rules]
source: file
file: {path: $work/events.jsonl}
outbox: {path: $dir/outbox.db, drain_timeout: 1s}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
YAML
  HOOK_URL="http://127.0.0.1:$(cat "$dir/port")/hook" "$klaxon" run --config "$dir/klaxon.yaml" \
    2>"$dir/run.log" || true
  python3 - "$dir/run.log" "$events" <<'PY'
import json, sys
from datetime import datetime
t = {}
notes = 0
for line in open(sys.argv[1]):
    j = json.loads(line)
    if j["msg"] == "rules loaded": t["start"] = j["ts"]
    if j["msg"] == "shutting down": t["end"] = j["ts"]
    if j["msg"] == "notification": notes += 1
ts = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
print(round(int(sys.argv[2]) / (ts(t["end"]) - ts(t["start"]))), notes)
PY
}
# Alternate the two receivers for a few rounds (the machine is shared and noisy) and compare
# medians.
rounds=${3:-3}
for r in $(seq "$rounds"); do
  run_with_delay 0 >"$work/fast$r"
  run_with_delay 1 >"$work/slow$r"
done
python3 - "$work" "$rounds" "$events" <<'PY'
import statistics, sys
work, rounds, events = sys.argv[1], int(sys.argv[2]), sys.argv[3]
read = lambda kind: [tuple(map(int, open(f"{work}/{kind}{r}").read().split())) for r in range(1, rounds + 1)]
fast, slow = read("fast"), read("slow")
print(f"events: {events}; notifications per run: {fast[0][1]} (fast receiver), {slow[0][1]} (slow receiver)")
print("evaluation with a receiver answering at once:   " + ", ".join(str(f[0]) for f in fast) + " events/s")
print("evaluation with a receiver answering after 1 s: " + ", ".join(str(s[0]) for s in slow) + " events/s")
mf, ms = statistics.median(f[0] for f in fast), statistics.median(s[0] for s in slow)
print(f"medians: {mf:.0f} vs {ms:.0f} events/s ({100 * ms / mf:.0f} %)")
PY

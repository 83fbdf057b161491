#!/usr/bin/env bash
# `klaxon replay` against the naive loop (std::getline plus a simdjson parse touching the same
# fields, bench/naive_loop_bench.cpp) over the same JSON Lines file, in one run. The file is the
# shipped outage story repeated with shifted times (about 1.6 KB per event). Each is reported
# as events per second of wall time (what a user waits for; replay reads and decodes on a
# second thread) and per CPU second of the process (user + system, all threads).
# usage: bench/replay_bench.sh BUILD_DIR [EVENTS]
set -euo pipefail
build=${1:-build/release}
events=${2:-500000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin() { [ -x "$root/$build/$1" ] && echo "$root/$build/$1" || echo "$build/$1"; }
klaxon=$(bin cli/klaxon)
naive=$(bin bench/naive_loop_bench)
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-replay-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$root/bench/repeat_outage.py" "$events" >"$work/events.jsonl"
cat >"$work/one.rules" <<'RULES'
action hook = webhook(url: "http://127.0.0.1:9/hook")
rule orders-db-errors {
  when frequency > 5/min for service:orders-api AND exception.type:DatabaseError
  group by environment
  then hook
}
RULES
bytes=$(wc -c <"$work/events.jsonl")
echo "events: $events, average $((bytes / events)) bytes"

rates() {  # runs "$@" with stdout to /dev/null; prints "WALL_RATE CPU_RATE"
  python3 - "$events" "$@" <<'PY'
import resource, subprocess, sys, time
n = int(sys.argv[1])
t0 = time.monotonic()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(round(n / wall), round(n / (u.ru_utime + u.ru_stime)))
PY
}
read -r naive_wall naive_cpu < <(rates "$naive" "$work/events.jsonl")
read -r one_wall one_cpu < <(rates "$klaxon" replay "$work/one.rules" --events "$work/events.jsonl" \
  --format json)
read -r ex_wall ex_cpu < <(rates "$klaxon" replay "$root/examples/rules" --events \
  "$work/events.jsonl" --format json)
rules=$("$klaxon" check "$root/examples/rules" | sed -n 's/.*, \([0-9]*\) rules.*/\1/p')
pct() { python3 -c "print(round(100 * $1 / $2))"; }
printf '%-34s %9s %6s %9s %6s\n' "" "wall/s" "" "cpu/s" ""
printf '%-34s %9d %6s %9d %6s\n' "naive getline + parse" "$naive_wall" "" "$naive_cpu" ""
printf '%-34s %9d %5d%% %9d %5d%%\n' "klaxon replay, 1 rule" "$one_wall" \
  "$(pct "$one_wall" "$naive_wall")" "$one_cpu" "$(pct "$one_cpu" "$naive_cpu")"
printf '%-34s %9d %5d%% %9d %5d%%\n' "klaxon replay, examples ($rules rules)" "$ex_wall" \
  "$(pct "$ex_wall" "$naive_wall")" "$ex_cpu" "$(pct "$ex_cpu" "$naive_cpu")"

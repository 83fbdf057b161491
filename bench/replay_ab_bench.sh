#!/usr/bin/env bash
# Two `klaxon` binaries' replay rates on the same log, interleaved (A B B A ...) so that load
# and thermal changes hit both alike, and a check that both print exactly the same
# notifications. The log is the outage story repeated (bench/repeat_outage.py); the rules are
# those of examples/rules. Reported per round and as medians: events per second of wall time
# (what a user waits for) and per CPU second of the process (user + system, all threads; less
# sensitive to other processes on a loaded machine).
# usage: bench/replay_ab_bench.sh OLD_KLAXON NEW_KLAXON [EVENTS] [ROUNDS]
set -euo pipefail
old=$1
new=$2
events=${3:-300000}
rounds=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-replay-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$root/bench/repeat_outage.py" "$events" >"$work/events.jsonl"
"$old" replay "$root/examples/rules" --events "$work/events.jsonl" --format json \
  >"$work/old.out" 2>/dev/null
"$new" replay "$root/examples/rules" --events "$work/events.jsonl" --format json \
  >"$work/new.out" 2>/dev/null
if ! cmp -s "$work/old.out" "$work/new.out"; then
  echo "the two binaries' notifications differ" >&2
  exit 1
fi
echo "events: $events, notifications: $(wc -l <"$work/old.out") (identical)"

rate() {  # "WALL_RATE CPU_RATE" of one replay
  python3 - "$events" "$@" <<'PY'
import resource, subprocess, sys, time
n = int(sys.argv[1])
t0 = time.monotonic()
subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(round(n / wall), round(n / (u.ru_utime + u.ru_stime)))
PY
}
old_rates=()
new_rates=()
old_cpu=()
new_cpu=()
replay() { rate "$1" replay "$root/examples/rules" --events "$work/events.jsonl" --format json; }
run_old() { read -r w c < <(replay "$old"); old_rates+=("$w"); old_cpu+=("$c"); }
run_new() { read -r w c < <(replay "$new"); new_rates+=("$w"); new_cpu+=("$c"); }
for ((i = 1; i <= rounds; i++)); do
  # Odd rounds run the old binary first, even rounds the new one: neither always goes second.
  if ((i % 2)); then
    run_old
    run_new
  else
    run_new
    run_old
  fi
  echo "round $i: wall old ${old_rates[-1]}/s new ${new_rates[-1]}/s;" \
    "cpu old ${old_cpu[-1]}/s new ${new_cpu[-1]}/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
pct() { python3 -c "print(round(100 * $1 / $2))"; }
m_old=$(median "${old_rates[@]}")
m_new=$(median "${new_rates[@]}")
c_old=$(median "${old_cpu[@]}")
c_new=$(median "${new_cpu[@]}")
echo "median wall: old $m_old/s, new $m_new/s ($(pct "$m_new" "$m_old")% of old)"
echo "median cpu:  old $c_old/s, new $c_new/s ($(pct "$c_new" "$c_old")% of old)"

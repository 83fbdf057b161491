#!/usr/bin/env bash
# Checkpoints and restarts of `klaxon run` with a large state, against a local Apache Kafka
# broker (scripts/kafka-broker): GROUPS events with distinct user.id values on a 1-partition topic,
# one rule grouping by user.id (so GROUPS groups), read by each given klaxon binary with its own
# consumer group and state store; then ROUNDS restarts per binary, interleaved (the machine is
# shared and noisy: compare within a round). Per restart: one new event (level fatal, a new
# user, an hour of event time after the previous one: while a run is idle its event time moves
# on with the wall clock) is produced, klaxon is started, and the time from exec to its "state restored" log line
# and to the notification of that event (`when level:fatal`, allowed lateness 0, so evaluated as
# soon as it is read) is taken from the log; then the first checkpoint after the restart (its
# seconds and bytes, from /metrics), and a SIGTERM (the shutdown checkpoint).
# usage: bench/restart_state_bench.sh GROUPS ROUNDS KLAXON_BINARY...
set -euo pipefail
groups=${1:?GROUPS}
rounds=${2:?ROUNDS}
shift 2
binaries=("$@")
[ "${#binaries[@]}" -gt 0 ] || { echo "give at least one klaxon binary" >&2; exit 2; }
build=.
. "$(dirname "$0")/kafka_bench_lib.sh"

cat >"$work/bench.rules" <<'RULES'
action sink = log(path: "/dev/null")
rule per-user {
  when frequency > 1000000 in 1h
  group by user.id
  then sink
}
rule restart-marker {
  when level:fatal
  then sink
}
RULES
python3 - "$groups" >"$work/events.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({"timestamp": round(1764547200 + i * 600 / n, 3), "level": "error",
                      "user": {"id": "user-%07d" % i}, "message": "m"}))
PY
echo "producing $groups events..." >&2
kcat -P -b "$brokers" -t groups -X linger.ms=50 -X batch.num.messages=10000 \
  -X queue.buffering.max.messages=1000000 -l "$work/events.jsonl"
rm -f "$work/events.jsonl"

config() {  # config N: the config of binary N
  cat >"$work/b$1.yaml" <<YAML
rules: [$work/bench.rules]
source: kafka
kafka: {brokers: $brokers, topics: [groups], group_id: klaxon-restart-$1}
engine: {max_groups_per_rule: 100000000, allowed_lateness: 0s}
state: {enabled: true}
outbox: {path: $work/outbox-$1.db}
admin: {listen: "127.0.0.1:0"}
YAML
}

metric() {  # metric ADMIN NAME
  curl -s "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

admin_of() {  # admin_of LOG
  for _ in $(seq 400); do grep -qs 'admin server listening' "$1" && break; sleep 0.05; done
  echo "http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$1" | tail -1)"
}

# wait_checkpoints ADMIN N: until N checkpoints were made; prints "seconds bytes" of the last.
wait_checkpoints() {
  for _ in $(seq 1200); do
    [ "$(metric "$1" klaxon_state_checkpoints_total)" -ge "$2" ] 2>/dev/null && break
    sleep 0.1
  done
  echo "$(metric "$1" klaxon_state_checkpoint_duration_seconds) $(metric "$1" klaxon_state_checkpoint_bytes)"
}

ts() { python3 -c 'import time; print(f"{time.time():.3f}")'; }
# since START LOG PATTERN: seconds from START to the first log line matching PATTERN.
since() {
  python3 - "$1" "$2" "$3" <<'PY'
import datetime, re, sys
start, log, pattern = float(sys.argv[1]), sys.argv[2], sys.argv[3]
for line in open(log):
    if re.search(pattern, line):
        t = datetime.datetime.strptime(line.split()[0][3:], "%Y-%m-%dT%H:%M:%S.%fZ")
        print(f"{t.replace(tzinfo=datetime.timezone.utc).timestamp() - start:.3f}")
        break
else:
    print("none")
PY
}

echo "$(date -u +%FT%TZ) $groups groups, $rounds restarts per binary, load: $(cut -d' ' -f1-3 /proc/loadavg)"
# The first run of each binary reads every event and checkpoints them.
for i in "${!binaries[@]}"; do
  config "$i"
  "${binaries[$i]}" run --config "$work/b$i.yaml" 2>"$work/b$i.run0.log" &
  pid=$!
  pids+=($pid)
  admin=$(admin_of "$work/b$i.run0.log")
  for _ in $(seq 3000); do
    [ "$(metric "$admin" klaxon_events_received_total)" -ge "$groups" ] 2>/dev/null && break
    sleep 0.1
  done
  n=$(metric "$admin" klaxon_state_checkpoints_total)
  # The checkpoint after the last event, then one with nothing changed.
  read -r s1 b1 < <(wait_checkpoints "$admin" $((n + 1)))
  read -r s2 b2 < <(wait_checkpoints "$admin" $((n + 2)))
  rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  echo "binary $i (${binaries[$i]}): read $groups events; checkpoint after them ${s1}s ${b1} bytes," \
    "next (idle) ${s2}s ${b2} bytes; peak RSS ${rss} MB; store $(du -m "$work/outbox-$i.db.state" | cut -f1) MB"
done

echo "round binary  restored_s  (read, restore)  first_event_s  first_checkpoint_s  first_checkpoint_bytes  load"
for r in $(seq "$rounds"); do
  order=("${!binaries[@]}")
  [ $((r % 2)) = 0 ] && order=($(printf '%s\n' "${order[@]}" | tac))
  for i in "${order[@]}"; do
    printf '{"timestamp":%s,"level":"fatal","user":{"id":"restart-%d-%d"},"message":"m"}\n' \
      "$((1764547200 + 600 + 3600 * r))" "$i" "$r" | kcat -P -b "$brokers" -t groups
    log="$work/b$i.run$r.log"
    start=$(ts)
    "${binaries[$i]}" run --config "$work/b$i.yaml" 2>"$log" &
    pid=$!
    pids+=($pid)
    admin=$(admin_of "$log")
    for _ in $(seq 200); do grep -qs 'rule=restart-marker' "$log" && break; sleep 0.05; done
    grep -qs 'rule=restart-marker' "$log" || { echo "no notification of the new event:" >&2; tail -5 "$log" >&2; curl -s "$admin/metrics" | grep -E '^klaxon_(events_|event_time|partition)' >&2; }
    read -r cs cb < <(wait_checkpoints "$admin" 1)
    kill -TERM "$pid"
    wait "$pid" || true
    parts=$(sed -n 's/.*msg="state restored".* read=\([^ ]*\) restore=\([^ ]*\).*/\1, \2/p' "$log")
    printf '%5s %6s %11s %16s %14s %19s %23s  %s\n' "$r" "$i" "$(since "$start" "$log" 'msg="state restored"')" "(${parts:-?})" \
      "$(since "$start" "$log" 'rule=restart-marker')" "$cs" "$cb" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done

#!/usr/bin/env bash
# A/B benchmarks of `klaxon run` against a local Apache Kafka broker (scripts/kafka-broker),
# the two configurations interleaved in one session, ROUNDS times, alternating which goes first
# (the machine is shared and noisy: compare the ratios of one session, never absolute rates
# across sessions):
#   checkpoint  the Kafka benchmark's log (bench/repeat_outage.py) and 100 rules
#               (bench/bench_rules.py) on a 1-partition topic: state store on vs off
#               (`state.enabled`), with the default checkpoint interval of 10 s
#   partitions  the same log on an 8-partition topic (unkeyed) vs a 1-partition one, state on
#   keyed       the same log on an 8-partition topic keyed by the `service` tag (as producers key
#               by project or service, and as the stream-runtime issue set it up) vs a
#               1-partition one, state on
#   noise       the 1-partition topic against itself (p1 vs p1): the spread of a ratio of two
#               identical configurations in one session, what "within noise" means here
#   alignment   the 8-partition topic with event-time alignment in effect (the default
#               engine.max_partition_skew) vs practically off (max_partition_skew 30d)
#   memory      EVENTS small events spread evenly over one hour of event time and a rule with a
#               1-hour window, so the restore horizon is 1 h: peak RSS with the state store on
#               vs off. Without a store, the offset of every record of the horizon waits in the
#               run loop's bookkeeping until the watermark has passed it by the horizon
# Each run is a new consumer group reading the topic from the start; the rate is taken from
# /metrics (bench/klaxon_rate.py) over the whole topic and up to 90 % of it (the end of a backlog
# on several partitions is read one partition after the other, each once the others went idle),
# the peak RSS from /proc (VmHWM) once every event was read.
# usage: bench/service_kafka_ab_bench.sh BUILD_DIR checkpoint|partitions|keyed|noise|alignment|memory
#        [EVENTS] [ROUNDS]
set -euo pipefail
build=${1:?BUILD_DIR}
mode=${2:?checkpoint, partitions, keyed, alignment or memory}
events=${3:-1000000}
rounds=${4:-3}
interval=${KLAXON_BENCH_CHECKPOINT_INTERVAL:-10s}  # state.checkpoint_interval of the runs
# KLAXON_BENCH_KAFKA: more keys of every run's `kafka` section, e.g. "statistics_interval: 1s"
# KLAXON_BENCH_KAFKA_A: more keys of the first configuration's `kafka` section only (a variant
# against the second), e.g. 'properties: {max.partition.fetch.bytes: "262144"}'
# KLAXON_BENCH_BUILD_A: another build folder whose klaxon runs the first configuration (an
# earlier commit against this one, e.g. with `noise`)
# KLAXON_BENCH_KEYED_P1=1: the 1-partition topic keyed by the `service` tag too
# KLAXON_BENCH_ENGINE: keys of the `engine` section of runs that set none, e.g.
# "max_partition_skew: 30d"
# KLAXON_BENCH_PERF: a folder; each run is sampled by `perf record` from the admin server's start
# to its last event, into FOLDER/run-N-CONFIG.data (`perf report -i ... --sort comm,sym`)
. "$(dirname "$0")/kafka_bench_lib.sh"
cache="${KLAXON_KAFKA_CACHE:-$HOME/.cache/klaxon/kafka-${KLAXON_KAFKA_VERSION:-4.1.1}}"

produce() {  # produce TOPIC FILE
  kcat -P -b "$brokers" -t "$1" -X linger.ms=50 -X batch.num.messages=10000 \
    -X queue.buffering.max.messages=1000000 -l "$2"
}

# produce_keyed TOPIC FILE: each event keyed by its `service` tag (kcat reads "key<TAB>value").
produce_keyed() {
  python3 -c 'import json, sys
for line in sys.stdin:
    tags = json.loads(line).get("tags") or {}
    tags = dict(tags) if isinstance(tags, list) else tags
    sys.stdout.write(str(tags.get("service", "")) + "\t" + line)' <"$2" |
    kcat -P -b "$brokers" -t "$1" -K $'\t' -X linger.ms=50 -X batch.num.messages=10000 \
      -X queue.buffering.max.messages=1000000 -l /dev/stdin
}

fetch_buffer=""
case "$mode" in
  checkpoint | partitions | keyed | noise | alignment)
    "$root/bench/bench_rules.py" >"$work/bench.rules"
    "$root/bench/repeat_outage.py" "$events" >"$work/events.jsonl"
    ;;
  memory)
    # A small fetch buffer (8 MiB, not 256), so that what the run loop holds shows in the peak
    # RSS rather than how far librdkafka fetched ahead.
    fetch_buffer=', properties: {queued.max.messages.kbytes: "8192", queued.min.messages: "10000"}'
    cat >"$work/bench.rules" <<'RULES'
action sink = log(path: "/dev/null")
rule hourly {
  when frequency > 1000000000 in 1h
  then sink
}
RULES
    python3 - "$events" >"$work/events.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    print(json.dumps({"timestamp": round(1764547200 + i * 3600 / n, 3), "level": "error",
                      "tags": {"service": "s%d" % (i % 8)}, "message": "m"}))
PY
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
"$klaxon" check "$work/bench.rules" >/dev/null
echo "producing $events events..." >&2
if [ "${KLAXON_BENCH_KEYED_P1:-}" = 1 ]; then
  produce_keyed p1 "$work/events.jsonl"
else
  produce p1 "$work/events.jsonl"
fi
if [ "$mode" = partitions ] || [ "$mode" = alignment ]; then
  java -cp "$cache/libs/*" "$root/scripts/create_topic.java" "$brokers" p8 8
  produce p8 "$work/events.jsonl"
fi
if [ "$mode" = keyed ]; then
  java -cp "$cache/libs/*" "$root/scripts/create_topic.java" "$brokers" p8k 8
  produce_keyed p8k "$work/events.jsonl"
fi
rm -f "$work/events.jsonl"

# run_once N NAME TOPIC STATE [ENGINE]: run N, one `klaxon run` over TOPIC from the start (consumer
# group klaxon-ab-N; ENGINE, if given, the keys of the `engine` section); prints "rate
# rate_to_90% peak_rss_MB checkpoints last_checkpoint_bytes last_checkpoint_seconds pauses
# resume_wait_s cpu_s rx_MB" (cpu_s: the process's user + system CPU seconds up to the last
# event; rx_MB: what it received on its TCP connections by then (`ss`, bytes_received), so the
# messages fetched again after a pause that dropped them count twice).
run_once() {
  local n=$1 name=$2 topic=$3 state=$4 engine=${5:-${KLAXON_BENCH_ENGINE:-}} pid admin rate rss metrics
  local kafka_extra=${KLAXON_BENCH_KAFKA:-} bin=$klaxon
  if [ "$name" = "${a[0]}" ] && [ -n "${KLAXON_BENCH_KAFKA_A:-}" ]; then
    kafka_extra="${kafka_extra:+$kafka_extra, }$KLAXON_BENCH_KAFKA_A"
  fi
  if [ "$name" = "${a[0]}" ] && [ -n "${KLAXON_BENCH_BUILD_A:-}" ]; then
    bin="$KLAXON_BENCH_BUILD_A/cli/klaxon"
  fi
  cat >"$work/$name.yaml" <<YAML
rules: [$work/bench.rules]
source: kafka
kafka: {brokers: $brokers, topics: [$topic], group_id: klaxon-ab-$n$fetch_buffer${kafka_extra:+, $kafka_extra}}
state: {enabled: $state, checkpoint_interval: $interval}
outbox: {path: $work/outbox-$n.db}
admin: {listen: "127.0.0.1:0"}
${engine:+engine: {$engine\}}
YAML
  "$bin" run --config "$work/$name.yaml" --log.level=info 2>"$work/run-$n.log" &
  pid=$!
  pids+=($pid)
  for _ in $(seq 200); do grep -qs 'admin server listening' "$work/run-$n.log" && break; sleep 0.05; done
  admin="http://127.0.0.1:$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$work/run-$n.log")"
  local perf_pid=""
  if [ -n "${KLAXON_BENCH_PERF:-}" ]; then
    perf record -q -F 499 -p "$pid" -o "$KLAXON_BENCH_PERF/run-$n-$name.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  rate=$("$root/bench/klaxon_rate.py" "$admin" "$events" 0.9)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  rss=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
    "/proc/$pid/stat")
  rx=$(ss -tinpH 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { getline
    if (match($0, /bytes_received:[0-9]+/)) s += substr($0, RSTART + 15, RLENGTH - 15) }
    END { printf "%.0f", s / 1048576 }')
  metrics=$(curl -s "$admin/metrics")
  kill -TERM "$pid"
  wait "$pid" || true
  rm -f "$work/outbox-$n.db"*
  echo "$rate $rss $(awk '$1 == "klaxon_state_checkpoints_total" { c = $2 }
    $1 == "klaxon_state_checkpoint_bytes" { b = $2 }
    $1 == "klaxon_state_checkpoint_duration_seconds" { d = $2 }
    $1 == "klaxon_kafka_partition_pauses_total" { p = $2 }
    $1 == "klaxon_kafka_partition_resume_wait_seconds_total" { w = $2 }
    END { printf "%d %d %.4f %d %.2f", c, b, d, p, w }' <<<"$metrics") $cpu $rx"
}

case "$mode" in
  checkpoint) a=(on p1 true) b=(off p1 false) ;;
  partitions) a=(p8 p8 true) b=(p1 p1 true) ;;
  keyed) a=(p8k p8k true) b=(p1 p1 true) ;;
  noise) a=(p1a p1 true) b=(p1b p1 true) ;;
  alignment) a=(p8 p8 true) b=(p8-30d p8 true "max_partition_skew: 30d") ;;
  memory) a=(on p1 true) b=(off p1 false) ;;
esac
echo "$(date -u +%FT%TZ) $mode, $events events, $rounds rounds, checkpoint_interval $interval, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "round config  events/s  to_90%/s  peak_rss_MB  checkpoints  checkpoint_bytes  checkpoint_s  pauses  resume_wait_s  cpu_s  rx_MB"
n=0
ratios=() ratios90=()
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order=(a b); else order=(b a); fi
  for which in "${order[@]}"; do
    declare -n cfg=$which
    n=$((n + 1))
    read -r rate rate90 rss ckpts bytes secs pauses wait cpu rx < <(run_once "$n" "${cfg[@]}")
    printf '%5s %-6s %9s %9s %12s %12s %17s %13s %7s %14s %6s %6s\n' "$r" "${cfg[0]}" "$rate" \
      "$rate90" "$rss" "$ckpts" "$bytes" "$secs" "$pauses" "$wait" "$cpu" "$rx"
    eval "${which}_rate_$r=$rate ${which}_r90_$r=$rate90 ${which}_rss_$r=$rss"
    unset -n cfg
  done
  ra="a_rate_$r" rb="b_rate_$r" qa="a_r90_$r" qb="b_r90_$r" ma="a_rss_$r" mb="b_rss_$r"
  ratios+=("$(python3 -c "print(${!ra} / ${!rb})")")
  ratios90+=("$(python3 -c "print(${!qa} / ${!qb})")")
  echo "round $r: ${a[0]}/${b[0]} rate ${ratios[-1]:0:4} (to 90 %: ${ratios90[-1]:0:4})," \
    "peak RSS ${!ma} vs ${!mb} MB (load $(cut -d' ' -f1 /proc/loadavg))"
done
median() { python3 -c "import statistics, sys
print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }
echo "${a[0]}/${b[0]} rate ratio, median of $rounds rounds: $(median "${ratios[@]}")" \
  "(to 90 %: $(median "${ratios90[@]}"))"

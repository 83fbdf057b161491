#!/usr/bin/env bash
# Scale-out benchmark of `klaxon run` (docs/scale_out.md, issue 14) against a local Apache Kafka
# broker (scripts/kafka-broker), on the Kafka benchmark's log (bench/repeat_outage.py) and 100
# rules (bench/bench_rules.py), the log produced beforehand to an 8-partition topic (a backlog).
#   throughput  events/s and CPU microseconds per event (/proc/PID/stat of every instance,
#               bench/scale_out_progress.py) of (KLAXON_BENCH_CONFIGS, default all): the
#               single-stage path ("single": 1 instance, scale_out off: the baseline), and 1, 2
#               and 3 instances with `scale_out: {enabled: true}` in one group ("so1" to "so3"),
#               and 1 instance with scale_out and rules that match no event (stage 1's decode,
#               match and watermark marks with nothing to route: "so1-none"); not by default,
#               "so1-eo" to "so3-eo": those with `scale_out.exactly_once` (stage 1 in
#               transactions). ROUNDS
#               rounds, the order reversed every other round. Every run is a new application id
#               (new consumer groups, repartition topic and changelog) reading the topic from the
#               start. After each scale-out run: the bytes of its repartition topic in the
#               broker's log directory, per input event, and its records per input event.
#   profile     1 instance with scale_out under `perf record` (user space, DWARF call graphs):
#               the CPU share of each thread, of stage 1 (RouteStage) and stage 2 (EvalStage)
#               inclusive of what they call (perf report --children), and the top functions by
#               their own time
#   failover    events produced live (200/s, event time now, every other one `level: fatal`) to
#               the 8-partition topic; 2 instances with scale_out, static membership and
#               session.timeout.ms KLAXON_BENCH_SESSION_TIMEOUT (default 10000, as
#               docs/operations.md suggests), one rule notifying every fatal event into a log
#               file. The rule has one group, so one repartition partition and one owner. Once
#               both have run 20 s, the owner (the instance whose stage 2 evaluates) is killed
#               with SIGKILL; measured: the time to the first notification after the kill (from
#               the survivor, the new owner: the dead one writes nothing more) and to the first
#               one of an event produced after the kill. ROUNDS rounds, a new application each.
#               KLAXON_BENCH_WARM_STANDBY: "false", "true" or "both" (default false; both
#               alternates them round by round, without first), KLAXON_BENCH_LATENESS: the
#               engine's allowed_lateness (default 5s), KLAXON_BENCH_BACKLOG_USERS: N events
#               from the last 30 minutes first, one user each, counted per user by a second rule
#               (N groups of state spread over the tasks; default 0),
#               KLAXON_BENCH_EXACTLY_ONCE: scale_out.exactly_once (default false).
# Needs the stage counters on /metrics (klaxon_scale_out_*, since the changelog).
# usage: bench/scale_out_bench.sh BUILD_DIR throughput|profile|failover [EVENTS] [ROUNDS]
set -euo pipefail
build=${1:?BUILD_DIR}
mode=${2:?throughput, profile or failover}
events=${3:-300000}
rounds=${4:-3}
. "$(dirname "$0")/kafka_bench_lib.sh"
cache="${KLAXON_KAFKA_CACHE:-$HOME/.cache/klaxon/kafka-${KLAXON_KAFKA_VERSION:-4.1.1}}"

"$root/bench/bench_rules.py" >"$work/bench.rules"
cat >"$work/none.rules" <<'RULES'
action sink = log(path: "/dev/null")
rule none {
  when frequency > 100/min for service:no-such-service
  group by environment
  then sink
}
RULES
"$klaxon" check "$work/bench.rules" >/dev/null
"$klaxon" check "$work/none.rules" >/dev/null
if [ "$mode" != failover ]; then
  echo "producing $events events to an 8-partition topic..." >&2
  java -cp "$cache/libs/*" "$root/scripts/create_topic.java" "$brokers" input 8
  "$root/bench/repeat_outage.py" "$events" | kcat -P -b "$brokers" -t input -X linger.ms=50 \
    -X batch.num.messages=10000 -X queue.buffering.max.messages=1000000
fi
data=$(sed -n 's/^DATA=//p' "$KLAXON_KAFKA_RUN"/state* 2>/dev/null | head -1)
[ -n "$data" ] || data=$KLAXON_KAFKA_RUN

# start N NAME RULES SCALE_OUT APP: one `klaxon run` on the input topic (application id and
# consumer group APP), its pid and admin URL appended to started.
started=()
start() {
  local n=$1 name=$2 rules=$3 scale_out=$4 app=$5 exactly_once=${6:-false} port
  cat >"$work/$name.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $brokers, topics: [input], group_id: $app}
outbox: {path: $work/$name.db}
admin: {listen: "127.0.0.1:0"}
scale_out: {enabled: $scale_out, application_id: $app, partitions: 8, exactly_once: $exactly_once}
YAML
  ${wrap:-} "$klaxon" run --config "$work/$name.yaml" --log.level=info 2>"$work/$name.log" &
  pids+=($!)
  started+=("$!")
}
admin_of() {  # admin_of NAME: the admin URL once the instance listens
  for _ in $(seq 200); do grep -qs 'admin server listening' "$work/$1.log" && break; sleep 0.05; done
  local port
  port=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$work/$1.log")
  [ -n "$port" ] || { tail -5 "$work/$1.log" >&2; echo "$1 did not start" >&2; exit 1; }
  echo "http://127.0.0.1:$port"
}

# run_once RUN CONFIG: prints "events/s cpu_us/event input routed eval/dup/late/invalid
# cpu_per_instance window changelog_bytes/event checkpoints repartition_bytes/event
# records/event".
run_once() {
  local run=$1 config=$2 k rules=$work/bench.rules scale_out=true i args=() app=so-$1 bytes eo=false
  case "$config" in
    single) k=1 scale_out=false ;;
    so1-none) k=1 rules=$work/none.rules ;;
    so*-eo) k=${config#so} k=${k%-eo} eo=true ;;
    so*) k=${config#so} ;;
  esac
  started=()
  for i in $(seq "$k"); do start "$run" "$app-$i" "$rules" "$scale_out" "$app" "$eo"; done
  for i in $(seq "$k"); do args+=("$(admin_of "$app-$i"),${started[$((i - 1))]}"); done
  read -r rate cpu input routed results per window cbpe ckpts < <("$root/bench/scale_out_progress.py" \
    "$events" "${args[@]}")
  for p in "${started[@]}"; do kill -TERM "$p"; done
  for p in "${started[@]}"; do wait "$p" || true; done
  bytes=$(find "$data" -path "*/$app-repartition-*" -name '*.log' -printf '%s\n' 2>/dev/null |
    awk '{ s += $1 } END { print s + 0 }')
  rm -rf "$work/$app"-*.db*
  echo "$rate $cpu $input $routed $results $per $window $cbpe $ckpts" \
    "$(python3 -c "print(f'{$bytes / $events:.0f} {$routed / $events:.2f}')")"
}

case "$mode" in
  throughput)
    read -ra configs <<<"${KLAXON_BENCH_CONFIGS:-single so1 so2 so3 so1-none}"
    echo "$(date -u +%FT%TZ) $events events, $rounds rounds, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "round config    events/s  cpu_us/event  input   routed  eval/dup/late/inv  cpu_s_each  window_s  changelog_B/ev  checkpoints  repart_B/ev  rec/ev"
    run=0
    rate_single=()
    for r in $(seq "$rounds"); do
      order=("${configs[@]}")
      if [ $((r % 2)) = 0 ]; then
        order=()
        for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[i]}"); done
      fi
      for config in "${order[@]}"; do
        run=$((run + 1))
        read -r rate cpu input routed results per window cbpe ckpts bpe rpe < <(run_once "$run" "$config")
        printf '%5s %-9s %8s %13s %7s %8s %18s %11s %9s %15s %12s %12s %7s\n' "$r" "$config" "$rate" \
          "$cpu" "$input" "$routed" "$results" "$per" "$window" "$cbpe" "$ckpts" "$bpe" "$rpe"
        eval "rate_${config//-/_}+=($rate) cpu_${config//-/_}+=($cpu)"
      done
      echo "round $r done (load $(cut -d' ' -f1 /proc/loadavg))"
    done
    echo "medians of $rounds rounds (events/s, cpu_us/event, events/s relative to single):"
    for config in "${configs[@]}"; do
      declare -n rates="rate_${config//-/_}" cpus="cpu_${config//-/_}" base=rate_single
      python3 - "$config" "${#rates[@]}" "${rates[@]}" "${cpus[@]}" "${base[@]}" <<'PY'
import statistics, sys
name, n = sys.argv[1], int(sys.argv[2])
v = list(map(float, sys.argv[3:]))
rates, cpus, base = v[:n], v[n:2 * n], v[2 * n:]
relative = f"{statistics.median(rates) / statistics.median(base):5.2f}" if base else "-"
print(f"  {name:9s} {statistics.median(rates):8.0f}/s {statistics.median(cpus):7.1f} us/event "
      f"{relative}")
PY
      unset -n rates cpus base
    done
    ;;
  profile)
    command -v perf >/dev/null || { echo "perf is not installed" >&2; exit 1; }
    wrap="perf record -F 499 --call-graph dwarf,16384 -o $work/perf.data --"
    started=()
    start 1 so-profile "$work/bench.rules" true so-profile
    read -r rate cpu _ routed _ < <("$root/bench/scale_out_progress.py" "$events" \
      "$(admin_of so-profile),$(pgrep -P "${started[0]}" -x klaxon || echo "${started[0]}")")
    kill -TERM "$(pgrep -P "${started[0]}" -x klaxon)"
    wait "${started[0]}" || true
    echo "$(date -u +%FT%TZ) $events events, 1 instance with scale_out under perf:" \
      "$rate events/s, $cpu us/event (perf's own overhead included), $routed records routed"
    echo "CPU by thread:"
    perf report -i "$work/perf.data" --no-children --sort comm --stdio 2>/dev/null |
      grep -E '^ +[0-9]' | head -12
    echo "CPU inclusive of callees, the stages' entry points (perf report --children):"
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9].*(RouteStage|EvalStage|ScaleOut|Runtime|Engine|simdjson|rd_kafka|Decod)' |
      cut -c1-160 | sed 's/ *$//' | head -40
    echo "CPU in the function itself, the top 15 (perf report --no-children):"
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
      grep -E '^ +[0-9]' | cut -c1-160 | sed 's/ *$//' | head -15
    ;;
  failover)
    session=${KLAXON_BENCH_SESSION_TIMEOUT:-10000}
    lateness=${KLAXON_BENCH_LATENESS:-5s}
    standby_mode=${KLAXON_BENCH_WARM_STANDBY:-false}
    java -cp "$cache/libs/*" "$root/scripts/create_topic.java" "$brokers" live 8
    # State to restore: a backlog of events from the last 30 minutes, one user each, counted per
    # user by a second rule, so every task holds many groups.
    backlog=${KLAXON_BENCH_BACKLOG_USERS:-0}
    if [ "$backlog" -gt 0 ]; then
      python3 - "$backlog" <<'PY' | kcat -P -b "$brokers" -t live -K $'\t' -X linger.ms=50 \
        -X batch.num.messages=10000 -X queue.buffering.max.messages=1000000
import json, sys, time
n = int(sys.argv[1])
start = time.time() - 1800
for i in range(n):
    print(f"u{i}\t" + json.dumps({"timestamp": round(start + i * 1700 / n, 3), "level": "error",
                                  "user": {"id": f"u{i}"}, "tags": {"service": "orders-api"},
                                  "message": "m"}))
PY
    fi
    python3 - <<'PY' | kcat -P -b "$brokers" -t live -K $'\t' -X linger.ms=5 &
import json, sys, time
start, n = time.time(), 0
while True:
    delay = start + n / 200 - time.time()
    if delay > 0:
        time.sleep(delay)
    level = "fatal" if n % 2 == 0 else "error"
    try:
        print(f"{n}\t" + json.dumps({"timestamp": round(time.time(), 3), "level": level,
                                      "tags": {"service": "orders-api"}, "message": "m"}),
              flush=True)
    except BrokenPipeError:  # kcat stopped at the end of the benchmark
        sys.exit(0)
    n += 1
PY
    pids+=($!)
    echo "$(date -u +%FT%TZ) failover, session.timeout.ms $session, allowed_lateness $lateness, warm_standby $standby_mode, exactly_once ${KLAXON_BENCH_EXACTLY_ONCE:-false}, $rounds rounds, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    for r in $(seq "$rounds"); do
      app=fo-$r-$$
      standby=$standby_mode
      [ "$standby_mode" = both ] && standby=$([ $((r % 2)) = 1 ] && echo false || echo true)
      cat >"$work/$app.rules" <<RULES
action sink = log(path: "$work/$app.jsonl")
rule every-fatal {
  when level:fatal
  then sink
}
RULES
      [ "$backlog" -gt 0 ] && cat >>"$work/$app.rules" <<'RULES'
rule per-user {
  when frequency > 1000000/1h
  group by user.id
  then sink
}
RULES
      urls=() started_pids=()
      for name in a b; do
        cat >"$work/$app-$name.yaml" <<YAML
rules: [$work/$app.rules]
source: kafka
kafka:
  brokers: $brokers
  topics: [live]
  group_id: $app
  properties: {group.instance.id: $name, session.timeout.ms: "$session"}
outbox: {path: $work/$app-$name.db}
admin: {listen: "127.0.0.1:0"}
engine: {allowed_lateness: $lateness}
scale_out: {enabled: true, application_id: $app, partitions: 8, warm_standby: $standby,
  exactly_once: ${KLAXON_BENCH_EXACTLY_ONCE:-false}}
YAML
        "$klaxon" run --config "$work/$app-$name.yaml" --log.level=info 2>"$work/$app-$name.log" &
        pids+=($!)
        started_pids+=($!)
      done
      for name in a b; do urls+=("$(admin_of "$app-$name")"); done
      sleep 20
      owner=""
      for i in 0 1; do
        e1=$(curl -s "${urls[i]}/metrics" | awk '$1 == "klaxon_scale_out_records_total{result=\"evaluated\"}" { print $2 }')
        sleep 1
        e2=$(curl -s "${urls[i]}/metrics" | awk '$1 == "klaxon_scale_out_records_total{result=\"evaluated\"}" { print $2 }')
        [ "${e2:-0}" != "${e1:-0}" ] && owner=$i
      done
      [ -n "$owner" ] || { echo "round $r: no instance evaluates the rule" >&2; exit 1; }
      survivor=$((1 - owner))
      read -r fail_first fail_new first_at killed_at < <(python3 - "$work/$app.jsonl" "${started_pids[owner]}" <<'PY'
import datetime, json, os, signal, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
killed = time.time()
os.kill(pid, signal.SIGKILL)
first = first_new = None
first_at = ""
while time.time() - killed < 180 and first_new is None:
    with open(path) as f:
        f.seek(size)
        lines = f.read().splitlines()
    now = time.time()
    for line in lines:
        at = datetime.datetime.fromisoformat(json.loads(line)["at"].replace("Z", "+00:00"))
        if first is None:
            first, first_at = now, json.loads(line)["at"]
        if at.timestamp() > killed:
            first_new = now
            break
    time.sleep(0.01)
fmt = lambda t: f"{t - killed:.2f}" if t else "none"
print(fmt(first), fmt(first_new), first_at or "-", f"{killed:.3f}")
PY
)
      sleep 1
      # When the survivor had the dead owner's tasks restored (its log's line for each), from
      # the kill: the group noticing and rebalancing, then the restore.
      survivor_name=$([ "$survivor" = 0 ] && echo a || echo b)
      restored_after=$(python3 - "$work/$app-$survivor_name.log" "$killed_at" <<'PY'
import datetime, re, sys
killed, last, inputs, read, groups, state = float(sys.argv[2]), None, None, "", 0, 0
for line in open(sys.argv[1]):
    ts = re.match(r"ts=(\S+)", line)
    if not ts:
        continue
    at = datetime.datetime.fromisoformat(ts.group(1).replace("Z", "+00:00")).timestamp()
    if at <= killed:
        continue
    if "input partition assigned" in line and inputs is None:
        inputs = at
    if "read from the changelog" in line:
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        read = (f"barrier {float(fields['barrier_seconds']):.2f} s, read {float(fields['read_seconds']):.2f} s"
                f" ({fields['records']} records)")
    if "restored from the changelog" in line and at > killed:
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        groups += int(fields.get("groups", 0))
        state += int(fields.get("state_bytes", 0))
    if "repartition partition assigned" in line:
        last = at
fmt = lambda t: f"{t - killed:.2f}" if t else "none"
print(f"{fmt(last)} (input partitions after {fmt(inputs)}; {read or 'no restore line'};"
      f" {groups} groups, {state} state bytes)")
PY
)
      metrics=$(curl -s "${urls[survivor]}/metrics")
      restores=$(awk '$1 == "klaxon_scale_out_restores_total" { print $2 }' <<<"$metrics")
      warm=$(awk '$1 == "klaxon_scale_out_standby_restores_total" { print $2 }' <<<"$metrics")
      restore_s=$(awk '$1 == "klaxon_scale_out_restore_seconds_total" { print $2 }' <<<"$metrics")
      kill -TERM "${started_pids[survivor]}"
      wait "${started_pids[survivor]}" || true
      echo "round $r: owner ${app}-$([ "$owner" = 0 ] && echo a || echo b) killed; first notification" \
        "from the new owner after ${fail_first} s (event time $first_at), first of an event after the" \
        "kill after ${fail_new} s; its tasks restored on the survivor after ${restored_after} s;" \
        "warm_standby $standby, survivor's restores: ${restores:-?} (from a" \
        "standby: ${warm:-?}, ${restore_s:-?} s restoring in all) (load $(cut -d' ' -f1 /proc/loadavg))"
    done
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Day-long state survives restarts: the rules of e2e/dayrules.rules (`frequency in 1h > 300% of
# 1d ago`, `new(release)`, `frequency < 1 in 6h`, `pending 30m`, `keep firing for` with
# `repeat every`) over the two-day log of e2e/dayrules_log.py, on a 4-partition topic keyed by
# service. The log is produced in twelve parts of 4 hours of event time:
#   restarts  `klaxon run` is stopped after each part has been evaluated, alternately with
#             SIGTERM and kill -9, and started again on the same state store;
#   control   the twelve parts are produced first, then one `klaxon run` reads them all.
#             (Not produced part by part into a running service: hours of old events produced
#             at once into partitions that went idle would be late, as docs/operations.md says.)
# Both must deliver exactly the notifications of one uninterrupted `klaxon replay` of the log:
# the same (time, rule, state, group, episode start, value, webhook-id), each webhook-id for
# one notification only. A restart that forgot state would show: the day-ago baseline and the
# group's first sighting (change rules are blind for a day after it), the silent service (its
# group is not seen again inside the gap), releases seen hours before, pending and firing
# episodes with their repeat count. KLAXON_DAYRULES_STATE=false runs the restarts without a
# state store (`state.enabled: false`, the restore-horizon re-read): the test must then fail.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=4
# A consumer killed with kill -9 leaves the group after its session timeout: 2 s, not 6.
export KLAXON_KAFKA_PROPS="group.min.session.timeout.ms=1000"
start_broker
start_receiver hook
export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
rules="$SRC/tests/scripts/e2e/dayrules.rules"
python3 "$SRC/tests/scripts/e2e/dayrules_log.py" >"$WORK/day.jsonl"
# Lateness 1 s (the log is in order within each partition): each part is evaluated to its end
# a second after it was read, which keeps twelve restarts quick.
lateness=1s  # wait_evaluated knows it is one second

# What each notification is: time, rule, state, group, episode start, value and idempotency key.
# received_keys_until FILE SECONDS: the receiver's requests in FILE as such keys, up to the
# log's last event, sorted; waits up to SECONDS for them to be replay's ($WORK/want).
key_fields='
import json
def key(headers, b):
    return " ".join([b["at"], b["rule"]["name"], b["state"], json.dumps(b["group"], sort_keys=True),
                     str(b.get("episode_start")), json.dumps(b["value"]), headers["webhook-id"]])'
received_keys_until() {
  python3 -c "$key_fields
import sys, time
path, seconds, cutoff, want = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
want = sorted(open(want).read().splitlines())
deadline = time.monotonic() + seconds
while True:
    got = sorted(k for k in (key(r['headers'], r['body'])
                             for r in map(json.loads, open(path))) if k.split()[0] <= cutoff)
    if sorted(set(got)) == want or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print('\\n'.join(got))" "$1" "$2" "$cutoff" "$WORK/want"
}
"$KLAXON_BIN" replay "$rules" --events "$WORK/day.jsonl" --allowed-lateness "$lateness" \
  --format json --payloads | python3 -c "$key_fields
import sys
for line in sys.stdin:
    r = json.loads(line)['requests'][0]
    print(key(r['headers'], r['body']))" | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")
# Every rule fires, and every rule but new(release) (which only fires) resolves.
for rule in day-over-day new-release service-silent timeouts-sustained fatal-storm; do
  grep -q " $rule firing " "$WORK/want" || fail "replay: $rule never fires"
  [ "$rule" = new-release ] || grep -q " $rule resolved " "$WORK/want" ||
    fail "replay: $rule never resolves"
done
grep -q ' fatal-storm repeat ' "$WORK/want" || fail "replay: fatal-storm never repeats"

# Twelve parts of 4 hours (key<TAB>event lines); the time of each part's last event.
python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
lines = open(f"{work}/day.jsonl").read().splitlines(True)
t0 = json.loads(lines[0])["timestamp"] // 14400 * 14400
parts = {}
for line in lines:
    e = json.loads(line)
    parts.setdefault(int((e["timestamp"] - t0) // 14400), []).append((e, line))
assert sorted(parts) == list(range(12)), sorted(parts)
with open(f"{work}/ends", "w") as ends:
    for i, part in sorted(parts.items()):
        with open(f"{work}/part{i}.tsv", "w") as out:
            for e, line in part:
                out.write(e["tags"]["service"] + "\t" + line)
        ends.write(f"{part[-1][0]['timestamp']}\n")
PY
# Notifications after the log's last event are the service's alone (replay stops there).
cutoff=$(python3 -c "import datetime, sys
t = float(open(sys.argv[1]).read().split()[-1])
at = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
print(at.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z')" "$WORK/ends")

# start_service NAME RUN: starts klaxon run with NAME's config; sets PID and ADMIN.
start_service() {
  local name=$1 run=$2
  "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>"$WORK/$name.$run.log" &
  PID=$!
  PIDS+=($PID)
  ADMIN=""
  for _ in $(seq 100); do
    ADMIN=$(sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' \
      "$WORK/$name.$run.log" 2>/dev/null || true)
    [ -n "$ADMIN" ] && break
    sleep 0.1
  done
  [ -n "$ADMIN" ] || fail "$name: run $run has no admin port ($(tail -3 "$WORK/$name.$run.log"))"
}

# wait_evaluated NAME RUN PART: waits until the engine's watermark reached the last event of
# PART minus the lateness: every partition is then read to its end (one with records left is
# not idle and holds the watermark below its next record) and evaluated up to there; the last
# second's events are held back for lateness, in memory and in checkpoints.
wait_evaluated() {
  local name=$1 run=$2 end
  end=$(sed -n "$(($3 + 1))p" "$WORK/ends")
  for _ in $(seq 300); do
    curl -s "http://127.0.0.1:$ADMIN/metrics" >"$WORK/metrics" 2>/dev/null || true
    if awk -v end="$end" '$1 == "klaxon_event_time_watermark_seconds" &&
      $2 + 0 >= end - 1 { ok = 1 } END { exit !ok }' "$WORK/metrics"; then
      grep -q '^klaxon_events_late_total 0$' "$WORK/metrics" ||
        fail "$name: run $run: $(grep '^klaxon_events_late_total' "$WORK/metrics")"
      return 0
    fi
    sleep 0.1
  done
  grep -E '^klaxon_(event_time|partition|events_(received|late)|kafka_consumer_lag)' \
    "$WORK/metrics" || true
  tail -5 "$WORK/$name.$run.log"
  fail "$name: run $run did not evaluate part $3 (up to $end) within 30 s"
}

# run_scenario NAME restarts|control [state.enabled] [term]: the twelve parts, then a last run
# (for restarts) that waits for replay's notifications; for control, the whole log in one run.
# Restarts alternate SIGTERM and kill -9, or with `term` are all SIGTERM.
# Leaves the requests in $WORK/NAME.jsonl.
run_scenario() {
  local name=$1 mode=$2 state=${3:-true} signals=${4:-mixed} i signal
  cat >"$WORK/$name.yaml" <<YAML
rules: [$rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [$name]
  group_id: klaxon-$name
  properties: {session.timeout.ms: "2000", heartbeat.interval.ms: "500"}
engine: {allowed_lateness: $lateness, partition_idle_timeout: 1s}
state: {enabled: $state}
outbox: {path: $WORK/$name.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
  : >"$WORK/hook.jsonl"
  if [ "$mode" = control ]; then
    for i in $(seq 0 11); do
      kcat -P -b "$BROKERS" -t "$name" -K $'\t' -l "$WORK/part$i.tsv" || fail "cannot produce"
    done
    start_service "$name" all
    wait_evaluated "$name" all 11
  fi
  for i in $(seq 0 11); do
    [ "$mode" = restarts ] || break
    kcat -P -b "$BROKERS" -t "$name" -K $'\t' -l "$WORK/part$i.tsv" || fail "cannot produce"
    start_service "$name" "$i"
    wait_evaluated "$name" "$i" "$i"
    # Alternately SIGTERM and kill -9, a moment after the part was evaluated: delivery, the
    # outbox and a checkpoint may or may not have happened by then.
    if [ $((i % 2)) = 0 ] || [ "$signals" = term ]; then signal=TERM; else signal=KILL; fi
    sleep "$(python3 -c "import random; print(round(random.Random($i).uniform(0, 1.5), 2))")"
    kill "-$signal" "$PID"
    wait "$PID" 2>/dev/null || [ "$signal" = KILL ] || fail "$name: run $i exited with $?"
  done
  [ "$mode" = restarts ] && start_service "$name" last
  received_keys_until "$WORK/hook.jsonl" 30 >/dev/null
  sleep 1  # anything extra would arrive now
  kill -TERM "$PID"
  wait "$PID" || fail "$name: the last run exited with $?"
  cp "$WORK/hook.jsonl" "$WORK/$name.jsonl"
  received_keys_until "$WORK/$name.jsonl" 0 >"$WORK/$name.got"
  if ! diff "$WORK/want" <(sort -u "$WORK/$name.got") >"$WORK/$name.diff"; then
    cat "$WORK/$name.diff"
    grep -h -E 'level=(error|warn)|restored|no checkpoint' "$WORK/$name".*.log | tail -20
    fail "$name: notifications differ from replay's (< replay, > service)"
  fi
  # A webhook-id names one notification: the same id with other content would be a line of
  # its own above; here, one notification under two ids.
  single_keys "$WORK/$name.jsonl" || fail "$name: a notification under several idempotency keys"
}

run_scenario control control
# Never stopped: every notification exactly once.
diff "$WORK/want" "$WORK/control.got" >/dev/null || fail "control: a notification sent twice"
echo "$(date +%T) control, never restarted: ok ($want notifications, each once)"

run_scenario restarts restarts "${KLAXON_DAYRULES_STATE:-true}"
grep -q 'msg="state restored"' "$WORK"/restarts.*.log || fail "restarts: no run restored state"
# A notification may be delivered again only after a kill -9, under the same webhook-id.
again=$(($(wc -l <"$WORK/restarts.got") - want))
echo "$(date +%T) 12 restarts (6 SIGTERM, 6 kill -9): ok ($want notifications;" \
  "$again delivered again under the same key)"

# Graceful stops only: every path (records, held events, resolves, flatlines, pending deadlines,
# repeats of keep-firing episodes) sends each notification exactly once.
run_scenario graceful restarts true term
if ! diff "$WORK/want" "$WORK/graceful.got" >"$WORK/graceful.dups"; then
  cat "$WORK/graceful.dups"
  fail "graceful: a notification sent twice across SIGTERM restarts (> service)"
fi
echo "$(date +%T) 12 restarts, all SIGTERM: ok ($want notifications, each once)"

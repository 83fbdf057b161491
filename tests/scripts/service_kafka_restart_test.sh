#!/usr/bin/env bash
# Restarts change nothing: the outage log arrives in ten parts on an 8-partition topic, and
# `klaxon run` is stopped after each part and started again. The receiver gets exactly the
# notifications replay computes for the whole log:
#   sigterm   stopped with SIGTERM each time, after every other part once it is read, in
#             between as soon as the partitions are assigned (mid catch-up): every
#             notification arrives exactly once, from every path (records, and time: held
#             events, resolves, flatlines);
#   kill      killed with kill -9 at random moments: none lost, and a notification sent again
#             only under the same idempotency key.
# The restore horizon is set to 1 minute, so only the checkpointed state can remember what
# came before (new(release), 5- and 10-minute windows spanning restarts). Checkpoints every
# second (not the default 10 s), so that the kills come after periodic checkpoints and the
# restarts restore state taken mid-stream (incremental: deltas, compactions), not only the one
# each run takes as it starts. Static group membership (group.instance.id), as docs/operations.md
# advises, and once without it:
#   kill-dynamic  killed with kill -9 and restarted at once, a new member each time, each run
#             joining beside another member that is then killed: a run is assigned only part
#             of the partitions until the dead members' sessions expire, and the partitions of its checkpoint that nobody alive reads must hold
#             event time back meanwhile (seen before that: resolves minutes early, firings
#             replay does not have).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=8
start_broker
outage_want
python3 - "$log" "$WORK" <<'PY'
import gzip, json, sys
lines = gzip.open(sys.argv[1], "rt").read().splitlines(True)
n = len(lines)
for i in range(10):
    with open(f"{sys.argv[2]}/part{i}.tsv", "w") as out:
        for line in lines[i * n // 10:(i + 1) * n // 10]:
            tags = json.loads(line)["tags"]
            tags = dict(tags) if isinstance(tags, list) else tags
            out.write(tags["service"] + "\t" + line)
PY

# run_scenario NAME SIGNAL [dynamic]: ten parts, a stop with SIGNAL after each; then a last run
# that finishes. Leaves the received notifications in $WORK/NAME.jsonl.
run_scenario() {
  local name=$1 signal=$2 membership=", group.instance.id: klaxon-$1"
  [ "${3:-}" = dynamic ] && membership=""
  cat >"$WORK/$name.yaml" <<YAML
rules: [$rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [$name]
  group_id: klaxon-$name
  properties: {session.timeout.ms: "6000", heartbeat.interval.ms: "1000"$membership}
engine: {restore_horizon: 1m}
state: {checkpoint_interval: 1s}
outbox: {path: $WORK/$name.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
  : >"$WORK/hook.jsonl"
  local produced=0 i pid admin received assigned squatter
  for i in $(seq 0 9); do
    kcat -P -b "$BROKERS" -t "$name" -K $'\t' -l "$WORK/part$i.tsv" || fail "cannot produce"
    produced=$((produced + $(wc -l <"$WORK/part$i.tsv")))
    assigned=$( (grep -c 'assigned [0-9]* partition' "$WORK/$name.log" 2>/dev/null || true) | tail -1)
    assigned=${assigned:-0}
    if [ -z "$membership" ]; then
      # Another member in the group when the run joins, killed with kill -9 a moment later:
      # the run is assigned part of the partitions until that member's session expires.
      kcat -b "$BROKERS" -G "klaxon-$name" -X enable.auto.commit=false \
        -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 -q "$name" >/dev/null 2>&1 &
      squatter=$!
      PIDS+=($squatter)
      sleep 1
    fi
    "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>>"$WORK/$name.log" &
    pid=$!
    PIDS+=($pid)
    if [ -z "$membership" ]; then
      # Killed once the run is assigned its share (at the latest when the dead members of
      # earlier runs expired), so that the run reads on beside a dead member's partitions.
      for _ in $(seq 150); do
        [ "$( (grep -c 'assigned [0-9]* partition' "$WORK/$name.log" || true) | tail -1)" -gt "$assigned" ] && break
        sleep 0.1
      done
      kill -9 "$squatter"
    fi
    if [ "$signal" = KILL ]; then
      # A random moment: while joining the group, catching up, or idle.
      sleep "$(python3 -c "import random; print(random.Random($i).uniform(0.5, 6))")"
    elif [ $((i % 2)) = 1 ]; then
      # Mid-stream: as the partitions are assigned and the backlog is being fetched, decoded
      # and evaluated (the shutdown checkpoint covers exactly the records handed to the engine).
      for _ in $(seq 600); do
        [ "$(grep -c 'assigned [0-9]* partition' "$WORK/$name.log" || true)" -gt "$assigned" ] && break
        sleep 0.02
      done
      sleep "$(python3 -c "import random; print(round(random.Random($i).uniform(0, 0.3), 2))")"
    else
      # Until this part is read, then a moment more (flatlines and resolves move on idle).
      for _ in $(seq 600); do
        admin=$( (grep -o 'msg="admin server listening".* port=[0-9]*' "$WORK/$name.log" || true) |
          tail -1 | sed 's/.*port=//')
        received=$( (curl -s "http://127.0.0.1:$admin/metrics" 2>/dev/null || true) |
          sed -n 's/^klaxon_events_received_total \([0-9]*\)$/\1/p')
        [ "${received:-0}" -ge "$produced" ] && break
        sleep 0.1
      done
      [ "${received:-0}" -ge "$produced" ] || fail "$name: run $i read ${received:-0} of $produced"
      sleep 0.5
    fi
    kill "-$signal" "$pid"
    wait "$pid" 2>/dev/null || [ "$signal" = KILL ] || fail "$name: run $i exited with $?"
  done
  "$KLAXON_BIN" run --config "$WORK/$name.yaml" 2>>"$WORK/$name.log" &
  pid=$!
  PIDS+=($pid)
  for _ in $(seq 1200); do
    received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
    cmp -s "$WORK/want" "$WORK/got" && break
    sleep 0.1
  done
  sleep 2  # anything extra would arrive now
  admin=$( (grep -o 'msg="admin server listening".* port=[0-9]*' "$WORK/$name.log" || true) |
    tail -1 | sed 's/.*port=//')
  curl -s "http://127.0.0.1:$admin/metrics" >"$WORK/$name.metrics" || true
  kill -TERM "$pid"
  wait "$pid" || fail "$name: the last run exited with $?"
  cp "$WORK/hook.jsonl" "$WORK/$name.jsonl"
  received_keys "$WORK/$name.jsonl" | awk -v last="$last" '$1 <= last' | sort >"$WORK/$name.got"
  if ! diff "$WORK/want" <(sort -u "$WORK/$name.got") >"$WORK/$name.diff"; then
    cat "$WORK/$name.diff"
    grep -E 'level=(error|warn)|restored|no checkpoint' "$WORK/$name.log" | tail -20
    grep -E '^klaxon_(event_time|partition|events_(received|late)|state)' "$WORK/$name.metrics" || true
    fail "$name: notifications lost or changed across restarts"
  fi
  single_keys "$WORK/$name.jsonl" || fail "$name: a notification under several idempotency keys"
  grep -q 'msg="state restored"' "$WORK/$name.log" || fail "$name: no run restored a checkpoint"
}

run_scenario sigterm TERM
# Graceful stops: not one notification twice, whatever path produced it.
if ! diff "$WORK/want" "$WORK/sigterm.got" >"$WORK/sigterm.dups"; then
  cat "$WORK/sigterm.dups"
  fail "sigterm: notifications sent twice across graceful restarts"
fi
echo "SIGTERM at 10 moments (5 idle, 5 mid catch-up): ok ($want notifications, each once)"

run_scenario kill KILL
echo "kill -9 at 10 random moments: ok ($want notifications, $(wc -l <"$WORK/kill.jsonl") requests, one key each)"

run_scenario kill-dynamic KILL dynamic
partial=$(grep -c 'assigned [1-7] partition' "$WORK/kill-dynamic.log" || true)
[ "$partial" -ge 5 ] || fail "kill-dynamic: only $partial runs were assigned part of the partitions"
echo "kill -9 at 10 random moments without static membership: ok ($partial partial assignments)"

#!/usr/bin/env bash
# Kafka's committed offsets never run ahead of what the state store's checkpoint covers
# (docs/operations.md, "State and restarts"): a partition the checkpoint does not cover is read
# from its committed offset, so a commit past the checkpoint would skip events that are in no
# checkpoint (after a lost store, or for another member of the group). Events stream into a
# 4-partition topic while `klaxon run` reads them; it is killed with -9 mid-stream, twice (short
# checkpoint interval, then checkpoints only at start), and each time every committed offset
# (read with Kafka's Admin API, without joining the group) is compared with the offsets stored
# in the checkpoint.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export KLAXON_KAFKA_PARTITIONS=4
# A consumer killed with kill -9 leaves the group after its session timeout: 2 s, not 6.
export KLAXON_KAFKA_PROPS="group.min.session.timeout.ms=1000"
start_broker
libs="${KLAXON_KAFKA_CACHE:-$HOME/.cache/klaxon/kafka-${KLAXON_KAFKA_VERSION:-4.1.1}}/libs"
[ -d "$libs" ] || fail "no Kafka jars in $libs"
start_receiver hook
export HOOK_URL="$RECEIVER_URL"

cat >"$WORK/stream.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"))

rule busy {
  when frequency > 300/min
  group by service
  then hook
}
RULES

# stream SECONDS: events stamped now, about 2,000 a second, spread over the partitions.
stream() {
  python3 - "$1" <<'PY' | kcat -P -b "$BROKERS" -t live || fail "cannot produce"
import json, sys, time
end = time.time() + float(sys.argv[1])
i = 0
while time.time() < end:
    for _ in range(200):
        i += 1
        print(json.dumps({"timestamp": time.time(), "level": "error",
                          "tags": {"service": "svc-%d" % (i % 7)}, "message": "m%d" % i}))
    sys.stdout.flush()
    time.sleep(0.1)
PY
}

# run NAME INTERVAL: klaxon run in group klaxon-NAME with state store NAME.state and this
# checkpoint interval; sets PID.
run() {
  cat >"$WORK/klaxon.yaml" <<YAML
rules: [$WORK/stream.rules]
source: kafka
kafka:
  brokers: $BROKERS
  topics: [live]
  group_id: klaxon-$1
  properties: {session.timeout.ms: "2000", heartbeat.interval.ms: "500"}
state: {path: $WORK/$1.state, checkpoint_interval: $2}
outbox: {path: $WORK/$1.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
YAML
  : >"$WORK/run.log"
  "$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
  PID=$!
  PIDS+=($PID)
  local port
  port=$(admin_port "$WORK/run.log")
  [ -n "$port" ] || { cat "$WORK/run.log"; fail "klaxon run did not start"; }
  # Ready: rules loaded and partitions assigned (the killed member's session has run out).
  wait_http "http://127.0.0.1:$port/-/ready" 60 || { cat "$WORK/run.log"; fail "not ready"; }
}

# compare NAME ROUND: every committed offset of group klaxon-NAME is at or below the offset of
# its partition in the checkpoint of NAME.state.
compare() {
  local name=$1
  shift
  java -cp "$libs/*" "$SRC/tests/scripts/committed_offsets.java" "$BROKERS" "klaxon-$name" \
    >"$WORK/committed.$1" 2>"$WORK/admin.$1.log" || { cat "$WORK/admin.$1.log"; fail "$1: cannot read committed offsets"; }
  sqlite3 -separator ' ' "$WORK/$name.state" \
    "SELECT topic, partition, next_offset FROM offsets ORDER BY topic, partition" >"$WORK/stored.$1" ||
    fail "$1: cannot read the state store's offsets"
  echo "$1: committed $(tr '\n' ',' <"$WORK/committed.$1") checkpoint $(tr '\n' ',' <"$WORK/stored.$1")"
  awk 'NR == FNR { stored[$1 " " $2] = $3; next }
       !(($1 " " $2) in stored) { print "partition " $1 "/" $2 " committed at " $3 " but in no checkpoint"; bad = 1; next }
       $3 > stored[$1 " " $2] { print "partition " $1 "/" $2 " committed at " $3 ", checkpoint covers up to " stored[$1 " " $2]; bad = 1 }
       END { exit bad }' "$WORK/stored.$1" "$WORK/committed.$1" ||
    fail "$1: committed offsets ran ahead of the checkpoint"
}

stream 1  # creates the topic, so the first run is assigned its partitions

# Round 1: checkpoints every second, killed 8 s into the stream (auto-commit runs every 5 s).
run commits 1s
stream 8
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
compare commits short-interval
[ -s "$WORK/committed.short-interval" ] || fail "nothing was committed: the comparison proved nothing"

# Round 2: the same group and store restarted, with no checkpoint for an hour after the one
# at start, so evaluation runs far ahead of the checkpoint while auto-commit runs.
run commits 1h
stream 8
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
compare commits restarted

# Round 3: a new group reads the whole topic from the start (a backlog) with no checkpoint for
# an hour, and is killed mid-stream: no offset may be committed beyond that first checkpoint.
run backlog 1h
stream 8
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
compare backlog backlog
echo "committed offsets never ahead of the checkpoint: ok"

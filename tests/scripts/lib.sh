# Shared helpers for Klaxon's end-to-end script tests (sourced, not run).
: "${KLAXON_BIN:?}" "${KLAXON_SOURCE_DIR:?}"
SRC="$KLAXON_SOURCE_DIR"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/klaxon-e2e.XXXXXX")"
PIDS=()
BROKER_STARTED=""

fail() { echo "FAIL: $*" >&2; exit 1; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [ -n "$BROKER_STARTED" ]; then "$SRC/scripts/kafka-broker" stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_broker: sets BROKERS to a fresh local Apache Kafka broker of this test.
start_broker() {
  export KLAXON_KAFKA_RUN="$WORK/kafka"
  BROKER_STARTED=1
  local out
  out="$("$SRC/scripts/kafka-broker" start)" || fail "kafka-broker start failed"
  BROKERS="$(printf '%s\n' "$out" | sed -n 's/^KAFKA_BROKERS=//p')"
  [ -n "$BROKERS" ] || fail "no KAFKA_BROKERS from kafka-broker"
}

# start_receiver NAME [receiver flags]: sets RECEIVER_URL; requests land in $WORK/NAME.jsonl.
start_receiver() {
  local name=$1
  shift
  python3 "$SRC/tests/scripts/receiver.py" --out "$WORK/$name.jsonl" \
    --port-file "$WORK/$name.port" "$@" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -s "$WORK/$name.port" ] && break; sleep 0.1; done
  [ -s "$WORK/$name.port" ] || fail "receiver did not start"
  RECEIVER_URL="http://127.0.0.1:$(cat "$WORK/$name.port")/hook"
  touch "$WORK/$name.jsonl"
}

# wait_lines FILE N SECONDS: waits until FILE has at least N lines.
wait_lines() {
  local file=$1 n=$2 seconds=$3
  for _ in $(seq $((seconds * 10))); do
    [ "$(wc -l <"$file")" -ge "$n" ] && return 0
    sleep 0.1
  done
  return 1
}

# wait_http URL SECONDS [STATUS]: waits until URL answers STATUS (default 200).
wait_http() {
  local url=$1 seconds=$2 want=${3:-200}
  for _ in $(seq $((seconds * 10))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = "$want" ] && return 0
    sleep 0.1
  done
  return 1
}

# wait_body URL SECONDS PATTERN OUT: fetches URL into OUT until its body has a line matching
# PATTERN (grep -E), for up to SECONDS; fails (returns 1) with OUT holding the last answer.
wait_body() {
  local url=$1 seconds=$2 pattern=$3 out=$4
  for _ in $(seq $((seconds * 10))); do
    curl -s "$url" >"$out" 2>/dev/null || true
    grep -qE "$pattern" "$out" && return 0
    sleep 0.1
  done
  return 1
}

# admin_port LOG: waits up to 10 s for `klaxon run`'s "admin server listening" line in LOG and
# prints the port it names (nothing when it never came).
admin_port() {
  local log=$1
  for _ in $(seq 100); do grep -qs 'admin server listening' "$log" && break; sleep 0.1; done
  sed -n 's/.*msg="admin server listening".* port=\([0-9]*\).*/\1/p' "$log"
}

# start_file_run RULES EVENTS: `klaxon run` in $WORK on RULES, following the file EVENTS (both
# relative to $WORK), with an outbox and the admin server on loopback; its log in
# $WORK/run.log and stdout in $WORK/run.out. Sets ADMIN (http://127.0.0.1:PORT) once it is
# ready.
start_file_run() {
  cat >"$WORK/klaxon.yaml" <<YAML
rules: [$1]
source: file
file: {path: $2, follow: true}
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:0"}
YAML
  "$KLAXON_BIN" run --config "$WORK/klaxon.yaml" >"$WORK/run.out" 2>"$WORK/run.log" &
  PIDS+=($!)
  local port
  port=$(admin_port "$WORK/run.log")
  [ -n "$port" ] || { cat "$WORK/run.log"; fail "klaxon run did not start"; }
  ADMIN="http://127.0.0.1:$port"
  wait_http "$ADMIN/-/ready" 20 || { cat "$WORK/run.log"; fail "never ready"; }
}

# The (at, rule, state, group) of each notification: from replay JSON, or a receiver's file.
replay_keys() { python3 -c '
import json, sys
for line in sys.stdin:
    n = json.loads(line)
    print(n["at"], n["rule"], n["state"], json.dumps(n["group"], sort_keys=True))'; }
received_keys() { python3 -c '
import json, sys
for line in open(sys.argv[1]):
    b = json.loads(line)["body"]
    print(b["at"], b["rule"]["name"], b["state"], json.dumps(b["group"], sort_keys=True))' "$1"; }

# firing_at < NOTIFICATIONS: the (at, rule, group) of each firing notification in the JSON lines
# of `klaxon replay --format json` or a log() action.
firing_at() { python3 -c '
import json, sys
for line in sys.stdin:
    n = json.loads(line)
    if n["state"] == "firing":
        print(n["at"], n["rule"], json.dumps(n["group"], sort_keys=True))'; }

# single_keys FILE: fails when one notification (at, rule, state, group) reached the receiver
# under more than one idempotency key (webhook-id).
single_keys() { python3 - "$1" <<'PY'
import collections, json, sys
ids = collections.defaultdict(set)
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = r["body"]
    ids[(b["at"], b["rule"]["name"], b["state"], json.dumps(b["group"], sort_keys=True))].add(
        r["headers"]["webhook-id"])
bad = {k: v for k, v in ids.items() if len(v) > 1}
assert not bad, f"notifications with several idempotency keys: {bad}"
PY
}

# outage_want: the end-to-end rules over the recorded outage, with a receiver "hook" for their
# webhook. Sets rules, log, want (how many notifications replay computes; their keys in
# $WORK/want, sorted) and last (the time of the last one).
outage_want() {
  start_receiver hook
  export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  rules="$SRC/tests/scripts/e2e/outage.rules"
  log="$SRC/examples/events/outage.jsonl.gz"
  "$KLAXON_BIN" replay "$rules" --events "$log" --format json | replay_keys | sort >"$WORK/want"
  want=$(wc -l <"$WORK/want")
  [ "$want" -ge 5 ] || fail "replay gave only $want notifications"
  last=$(tail -1 "$WORK/want" | cut -d' ' -f1)
}

#!/usr/bin/env bash
# `kafka.format: sentry_ingest` against a real broker: the events captured from real SDKs
# (tests/engine/fixtures/sentry/) are produced to an ingest-events topic as msgpack messages
# built exactly as Relay builds them (relay-server/src/services/store.rs, KafkaMessage::Event),
# among messages of other types and hostile ones. `klaxon run` notifies exactly as `klaxon
# replay` over the same events with the project fields Relay's message gives them; the other
# types are counted and skipped; the hostile messages are rejected with their reason and
# dead-lettered with their own bytes; nothing crashes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${KLAXON_BUILD_DIR:?}"
PY="$KLAXON_BUILD_DIR/venv/bin/python"
"$PY" -c 'import msgpack' 2>/dev/null || fail "no msgpack in $KLAXON_BUILD_DIR/venv (the sentry_venv fixture installs it)"
start_broker

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ADMIN=$(free_port)

# Messages as Relay writes them: rmp_serde::to_vec_named of the internally tagged enum, so a map
# with `type` first, then EventKafkaMessage's fields in order; `payload` is bytes (msgpack bin).
# Python services are project 42, Node 43 (both named below), Go 44 (no name: project_id only).
mkdir -p "$WORK/messages"
"$PY" - "$SRC/tests/engine/fixtures/sentry" "$WORK" <<'PY'
import glob, json, os, sys, msgpack
fixtures, work = sys.argv[1], sys.argv[2]
projects = {"python": (42, "python-svc"), "node": (43, "node-svc"), "go": (44, None)}
events = []
for path in sorted(glob.glob(f"{fixtures}/*.json")):
    sdk = os.path.basename(path).split("-")[0]
    events.append((sdk, json.load(open(path))))
def ts(e):
    t = e["timestamp"]
    if isinstance(t, (int, float)): return float(t)
    from datetime import datetime
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
events.sort(key=lambda se: ts(se[1]))
def message(type_, **fields):
    return msgpack.packb({"type": type_, **fields}, use_bin_type=True)
n = 0
def put(data, name):
    global n
    n += 1
    open(f"{work}/messages/{n:03d}-{name}", "wb").write(data)
with open(f"{work}/replay.jsonl", "w") as replay:
    for sdk, e in events:
        pid, name = projects[sdk]
        payload = json.dumps(e).encode()
        put(message("event", payload=payload, start_time=1764280000, event_id=e["event_id"],
                    project_id=pid, remote_addr="10.0.0.1", attachments=[]), f"event-{sdk}")
        # What the rules see: the message's project (a payload's own `project` never wins).
        e = dict(e)
        e.pop("project", None)
        if name: e["project"] = name
        e["project_id"] = pid
        replay.write(json.dumps(e) + "\n")
        if sdk == "python" and n == 2:  # other types among the events: counted and skipped
            put(message("attachment", event_id=e["event_id"], project_id=pid,
                        attachment={"id": "a1", "attachment_type": "event.attachment", "chunks": 1}), "attachment")
            put(message("user_report", project_id=pid, start_time=1764280000,
                        payload=b'{"event_id":"x","name":"n","comments":"c"}'), "user_report")
            put(message("event", payload=json.dumps({"type": "transaction", "timestamp": ts(e),
                        "transaction": "/orders"}).encode(), start_time=1764280000,
                        event_id="f" * 32, project_id=pid, remote_addr=None, attachments=[]), "transaction")
good = message("event", payload=b'{"event_id":"e","timestamp":1}', start_time=1, event_id="e",
               project_id=42, remote_addr=None, attachments=[])
# Hostile messages, last, each with the reason the dead-letter topic must carry.
hostile = [
    (good[:-7], "invalid_message", "the msgpack message is truncated"),
    (good + b"\x00", "invalid_message", "bytes after the end of the msgpack message"),
    (msgpack.packb(["event", 42]), "invalid_message", "not a msgpack map (Relay's ingest message)"),
    (message("event", payload=7, project_id=42), "invalid_message", "an event message without a bytes `payload`"),
    (message("event", payload=b"{}", project_id="42"), "invalid_message", "an event message without a positive integer `project_id`"),
    (message(3, payload=b"{}", project_id=42), "invalid_message", "no string `type`"),
    (b'{"type":"event"}', "invalid_message", "bytes after the end of the msgpack message"),
    (message("event", payload=b"this is not json", project_id=42), "invalid_json", ""),
    (message("event", payload=b'{"timestamp":1,"pad":"' + b"x" * (600 << 10) + b'"}', project_id=42), "too_large", ""),
]
with open(f"{work}/hostile_want", "w") as want:
    for i, (data, reason, detail) in enumerate(hostile):
        put(data, f"hostile-{i}")
        want.write(f"{reason}\t{detail}\n")
print(len(events), "events,", len(hostile), "hostile messages")
PY
ls "$WORK/messages" | wc -l
# kcat sends each file as one message, in order, on the one partition.
kcat -P -b "$BROKERS" -t ingest-events -p 0 "$WORK"/messages/* ||
  fail "kcat could not produce"

cat >"$WORK/t.rules" <<RULES
action out = log(path: "$WORK/notifications.jsonl")
rule crashes {
  when frequency > 0 in 1h for error.unhandled:yes
  group by project
  then out
}
rule handled {
  when frequency > 1 in 1h for error.handled:1
  group by project_id
  then out
}
rule per-issue {
  when frequency > 1 in 1h
  group by issue
  then out
}
rule new-issue {
  when new(issue)
  group by issue  # (without it, new issues in one millisecond share an idempotency key)
  then out
}
RULES
cat >"$WORK/klaxon.yaml" <<YAML
rules: [t.rules]
source: kafka
kafka:
  brokers: "$BROKERS"
  topics: [ingest-events]
  group_id: klaxon-relay-test
  format: sentry_ingest
  dead_letter_topic: klaxon-dead-letters
sentry:
  projects:
    - {id: 42, name: python-svc}
    - {id: 43, name: node-svc}
engine: {max_event_size: 512KiB}
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:$ADMIN"}
YAML
"$KLAXON_BIN" check --config "$WORK/klaxon.yaml" >/dev/null || fail "check --config"
"$KLAXON_BIN" replay "$WORK/t.rules" --events "$WORK/replay.jsonl" --format json >"$WORK/replay_notes.jsonl"
firing_at <"$WORK/replay_notes.jsonl" | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")
[ "$want" -ge 10 ] || fail "replay gave only $want firing notifications: $(cat "$WORK/want")"
grep -q 'crashes {"project": "node-svc"}' "$WORK/want" || fail "no node crash in replay: $(cat "$WORK/want")"
grep -q 'handled {"project_id": "44"}' "$WORK/want" || fail "no go (unnamed project) in replay: $(cat "$WORK/want")"

touch "$WORK/notifications.jsonl"
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" >"$WORK/run.log" 2>&1 &
KLAXON_PID=$!
PIDS+=($KLAXON_PID)
wait_http "http://127.0.0.1:$ADMIN/-/healthy" 30 || fail "klaxon run did not start: $(tail -5 "$WORK/run.log")"
hostile=$(wc -l <"$WORK/hostile_want")
metric() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
for _ in $(seq 600); do
  [ "$(metric klaxon_events_dead_lettered_total)" = "$hostile" ] && break
  sleep 0.1
done
[ "$(metric klaxon_events_dead_lettered_total)" = "$hostile" ] ||
  fail "dead-lettered $(metric klaxon_events_dead_lettered_total), want $hostile: $(tail -5 "$WORK/run.log")"
wait_lines "$WORK/notifications.jsonl" "$want" 30 || true
sleep 1  # nothing more may come
firing_at <"$WORK/notifications.jsonl" | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "klaxon run over the topic and klaxon replay differ"

curl -s "http://127.0.0.1:$ADMIN/metrics" >"$WORK/metrics"
for line in 'klaxon_kafka_messages_skipped_total{type="attachment"} 1' \
  'klaxon_kafka_messages_skipped_total{type="user_report"} 1' \
  'klaxon_kafka_messages_skipped_total{type="transaction"} 1' \
  'klaxon_events_rejected_total{reason="invalid_message"} 7' \
  'klaxon_events_rejected_total{reason="invalid_json"} 1' \
  'klaxon_events_rejected_total{reason="too_large"} 1'; do
  grep -qF "$line" "$WORK/metrics" || fail "no '$line' in: $(grep -E 'skipped|rejected' "$WORK/metrics")"
done

# Dead letters: the message's own bytes, with the reason (and for invalid_message the detail).
"$PY" - "$BROKERS" "$WORK" <<'PY' || fail "dead letters"
import subprocess, sys
brokers, work = sys.argv[1], sys.argv[2]
out = subprocess.run(["kcat", "-C", "-b", brokers, "-t", "klaxon-dead-letters", "-o", "beginning",
                      "-e", "-q", "-f", "%o\t%h\t%S\n"],
                     capture_output=True, check=True, text=True, errors="replace").stdout
got = []
for line in out.splitlines():
    offset, headers, size = line.split("\t")
    h = dict(kv.split("=", 1) for kv in headers.split(","))
    got.append((h["klaxon-reason"], h.get("klaxon-detail", ""), int(size)))
want = [tuple(l.rstrip("\n").split("\t")) for l in open(f"{work}/hostile_want")]
import glob, os
sizes = [os.path.getsize(p) for p in sorted(glob.glob(f"{work}/messages/*-hostile-*"))]
assert [(r, d) for r, d, _ in got] == want, (got, want)
assert [s for _, _, s in got] == sizes, (got, sizes)
PY
kill -0 "$KLAXON_PID" || fail "klaxon run died: $(tail -5 "$WORK/run.log")"
kill -TERM "$KLAXON_PID"; wait "$KLAXON_PID" 2>/dev/null || true
echo "ok: $want notifications equal replay's; other types skipped; $hostile hostile messages dead-lettered"

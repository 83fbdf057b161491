#!/usr/bin/env bash
# Raw envelopes captured from @sentry/node 11.12.0 and sentry-go 0.50.0
# (tests/ingest/fixtures/envelopes/, made by `CAPTURE=envelopes
# scripts/capture-sentry-fixtures/capture.sh`), including Go's bare-list `exception`, replayed
# byte for byte through the ingestion endpoint of `klaxon run` (`source: sentry`). The
# notifications equal those of `klaxon replay` over the events taken out of the envelopes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
ADMIN=$(free_port)
ENVELOPES="$SRC/tests/ingest/fixtures/envelopes"
count=$(ls "$ENVELOPES"/*.envelope | wc -l)
[ "$count" -ge 10 ] || fail "only $count envelopes in $ENVELOPES"

cat >"$WORK/t.rules" <<RULES
action out = log(path: "$WORK/notifications.jsonl")
rule crashes {
  when frequency > 0 in 1h for error.unhandled:yes
  group by platform
  then out
}
rule by-release {
  when frequency > 1 in 1h for error.handled:true
  group by platform, release
  then out
}
rule go-not-found {  # sentry-go: "exception": [ ... ], a bare list
  when frequency > 0 in 1h for exception.value:"order 8 not found" AND error.type:"*main.NotFoundError"
  group by project
  then out
}
rule per-issue {
  when frequency > 1 in 1h
  group by issue
  then out
}
rule new-issue {
  when new(issue)
  group by issue
  then out
}
RULES
cat >"$WORK/klaxon.yaml" <<YAML
rules: [t.rules]
source: sentry
sentry:
  listen: "127.0.0.1:$PORT"
  projects:
    - {id: 42, name: orders-api, keys: [public]}
  capture: captured.jsonl
outbox: {path: outbox.db}
admin: {listen: "127.0.0.1:$ADMIN"}
YAML
"$KLAXON_BIN" check --config "$WORK/klaxon.yaml" >/dev/null || fail "check --config"

# The events inside the envelopes, with what the endpoint adds (project, project_id), in the
# order they are sent.
python3 - "$ENVELOPES" "$WORK" <<'PY'
import glob, json, sys
envelopes, work = sys.argv[1], sys.argv[2]
with open(f"{work}/events.jsonl", "w") as out:
    for path in sorted(glob.glob(f"{envelopes}/*.envelope")):
        body = open(path, "rb").read()
        lines = body.split(b"\n")
        pos = len(lines[0]) + 1
        while pos < len(body):
            nl = body.find(b"\n", pos)
            header = json.loads(body[pos:nl])
            pos = nl + 1
            n = header.get("length")
            if n is None:
                end = body.find(b"\n", pos)
                n = (len(body) if end < 0 else end) - pos
            payload = body[pos:pos + n]
            pos += n + 1
            if header["type"] == "event":
                e = json.loads(payload)
                e["project"], e["project_id"] = "orders-api", 42
                out.write(json.dumps(e) + "\n")
PY
grep -c . "$WORK/events.jsonl" | grep -qx "$count" || fail "want one event per envelope"
grep -q '"exception": \[' "$WORK/events.jsonl" || fail "no bare-list exception among the events"

touch "$WORK/notifications.jsonl"
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" >"$WORK/run.log" 2>&1 &
KLAXON_PID=$!
PIDS+=($KLAXON_PID)
wait_http "http://127.0.0.1:$ADMIN/-/ready" 20 || fail "klaxon run not ready: $(tail -5 "$WORK/run.log")"
# Node sends its key in X-Sentry-Auth; sentry-go too (its envelopes also carry the DSN).
for f in "$ENVELOPES"/*.envelope; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/x-sentry-envelope' \
    -H 'X-Sentry-Auth: Sentry sentry_version=7, sentry_client=capture, sentry_key=public' \
    --data-binary "@$f" "http://127.0.0.1:$PORT/api/42/envelope/")
  [ "$code" = 200 ] || fail "$(basename "$f"): $code $(cat "$WORK/body")"
  id=$(head -1 "$f" | python3 -c 'import json, sys; print(json.load(sys.stdin)["event_id"])')
  grep -q "\"id\":\"$id\"" "$WORK/body" || fail "$(basename "$f"): answer $(cat "$WORK/body"), want id $id"
done
wait_lines "$WORK/captured.jsonl" "$count" 10 || fail "captured $(wc -l <"$WORK/captured.jsonl") events, want $count"

"$KLAXON_BIN" replay "$WORK/t.rules" --events "$WORK/events.jsonl" --format json 2>/dev/null |
  firing_at | sort >"$WORK/want"
want=$(wc -l <"$WORK/want")
for expect in 'crashes {"platform": "node"}' 'go-not-found {"project": "orders-api"}' \
  'by-release {"platform": "go", "release": "orders@1.4.2"}'; do
  grep -qF "$expect" "$WORK/want" || fail "replay lacks '$expect': $(cat "$WORK/want")"
done
wait_lines "$WORK/notifications.jsonl" "$want" 30 || true
sleep 1  # nothing more may come
firing_at <"$WORK/notifications.jsonl" | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "klaxon run over the envelopes and klaxon replay differ"
kill -TERM "$KLAXON_PID"; wait "$KLAXON_PID" 2>/dev/null || true
echo "ok: $count envelopes from @sentry/node and sentry-go, $want notifications equal replay's"

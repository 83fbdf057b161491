#!/usr/bin/env bash
# Every metric family `klaxon run` exports is in docs/operations.md's table, and every metric
# name the docs mention anywhere is exported: what users alert on must exist.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_broker
start_receiver hook
export HOOK_URL="$RECEIVER_URL" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
rules="$SRC/tests/scripts/e2e/outage.rules"
python3 -c 'import gzip, sys; sys.stdout.writelines(gzip.open(sys.argv[1], "rt").readlines()[:2000])' \
  "$SRC/examples/events/outage.jsonl.gz" >"$WORK/events.jsonl"
kcat -P -b "$BROKERS" -t events -l "$WORK/events.jsonl" || fail "cannot produce"
cat >"$WORK/klaxon.yaml" <<YAML
rules: [$rules]
source: kafka
kafka: {brokers: $BROKERS, topics: [events], group_id: klaxon-metrics, dead_letter_topic: dead}
outbox: {path: $WORK/outbox.db}
http: {allow: [127.0.0.1]}
admin: {listen: "127.0.0.1:0"}
sentry: {listen: "127.0.0.1:0", projects: [{id: 1, name: p, keys: [k]}]}
YAML
"$KLAXON_BIN" run --config "$WORK/klaxon.yaml" 2>"$WORK/run.log" &
pid=$!
PIDS+=($pid)
admin=$(admin_port "$WORK/run.log")
[ -n "$admin" ] || fail "no admin port in the log"
# Wait until every partition reported its event time (the last families to appear).
for _ in $(seq 300); do
  curl -s "http://127.0.0.1:$admin/metrics" >"$WORK/metrics" || true
  grep -q '^klaxon_partition_event_time_seconds' "$WORK/metrics" &&
    grep -q '^klaxon_kafka_consumer_lag' "$WORK/metrics" && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "klaxon run exited with $?"

# The scale-out families come from an instance with scale_out (one task, its watermark known).
kcat -P -b "$BROKERS" -t so-events -l "$WORK/events.jsonl" || fail "cannot produce"
sed -e 's/topics: \[events\], group_id: klaxon-metrics, dead_letter_topic: dead/topics: [so-events], group_id: klaxon-so/' \
  -e "s|$WORK/outbox.db|$WORK/so-outbox.db|" -e '/^sentry:/d' "$WORK/klaxon.yaml" >"$WORK/so.yaml"
echo 'scale_out: {enabled: true, partitions: 1}' >>"$WORK/so.yaml"
"$KLAXON_BIN" run --config "$WORK/so.yaml" 2>"$WORK/so.log" &
pid=$!
PIDS+=($pid)
admin=$(admin_port "$WORK/so.log")
[ -n "$admin" ] || { tail "$WORK/so.log"; fail "scale_out: no admin port in the log"; }
wait_body "http://127.0.0.1:$admin/metrics" 30 '^klaxon_scale_out_task_watermark_seconds' \
  "$WORK/so-metrics" ||
  { tail "$WORK/so.log"; fail "scale_out: no task watermark on /metrics"; }
kill -TERM "$pid"
wait "$pid" || fail "klaxon run with scale_out exited with $?"
cat "$WORK/so-metrics" >>"$WORK/metrics"

python3 - "$WORK/metrics" "$SRC" <<'PY'
import glob, re, sys
exported = set(re.findall(r"^# TYPE (klaxon_\w+) ", open(sys.argv[1]).read(), re.M))
assert len(exported) > 20, exported
src = sys.argv[2]
ops = open(f"{src}/docs/operations.md").read()
table = set(re.findall(r"^\| `(klaxon_\w+)` \|", ops, re.M))
problems = []
for name in sorted(exported - table):
    problems.append(f"exported but not in docs/operations.md's table: {name}")
for name in sorted(table - exported):
    problems.append(f"in docs/operations.md's table but not exported: {name}")
# Any metric named anywhere in the docs must exist (a family, or one of its series).
suffixes = ("", "_bucket", "_sum", "_count")
for doc in sorted(glob.glob(f"{src}/docs/*.md") + [f"{src}/README.md"]):
    for name in sorted(set(re.findall(r"\b(klaxon_[a-z0-9_]+)", open(doc).read()))):
        if not any(name.endswith(s) and name[: len(name) - len(s)] in exported for s in suffixes if s) \
                and name not in exported:
            problems.append(f"{doc[len(src) + 1:]} names {name}, which is not exported")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{len(exported)} metric families exported, all documented")
PY
echo "metrics documented: ok"

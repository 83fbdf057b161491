#!/usr/bin/env bash
# Replay is deterministic: the same log gives byte-identical output across runs, and a log whose
# events are shuffled within the allowed lateness gives the same notifications as the sorted
# log. Also: `--format json` prints exactly one JSON object per line and nothing else.
set -euo pipefail
: "${KLAXON_BIN:?}" "${KLAXON_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$KLAXON_SOURCE_DIR"

"$KLAXON_BIN" replay examples/rules --events examples/events/outage.jsonl.gz --format json \
  >"$work/a.jsonl"
"$KLAXON_BIN" replay examples/rules --events examples/events/outage.jsonl.gz --format json \
  >"$work/b.jsonl"
cmp "$work/a.jsonl" "$work/b.jsonl"
[ -s "$work/a.jsonl" ] || { echo "replay produced no notifications"; exit 1; }

# Every line is one JSON object with the documented keys, in event-time order.
python3 - "$work/a.jsonl" <<'PY'
import json, sys
last = ""
for n, line in enumerate(open(sys.argv[1]), 1):
    obj = json.loads(line)
    assert isinstance(obj, dict), f"line {n}: not an object"
    assert list(obj)[:6] == ["at", "rule", "state", "group", "value", "actions"], f"line {n}: keys {list(obj)}"
    assert obj["state"] in ("firing", "repeat", "resolved"), f"line {n}: state {obj['state']}"
    assert obj["at"] >= last, f"line {n}: {obj['at']} before {last}"
    last = obj["at"]
PY

# Shuffle: every event moves by less than the allowed lateness (5 s), seeded, several times.
for seed in 1 2 3; do
  python3 - "$seed" "$work/shuffled.jsonl" <<'PY'
import gzip, json, random, sys
seed, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)
lines = gzip.open("examples/events/outage.jsonl.gz", "rt").read().splitlines()
def t(line):
    ts = json.loads(line)["timestamp"]
    if isinstance(ts, str):
        from datetime import datetime
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    return ts
# Sort by a jittered key: an event is overtaken only by events less than 4.9 s older.
keyed = sorted(lines, key=lambda l: t(l) + rng.uniform(0, 4.9))
open(out, "w").write("\n".join(keyed) + "\n")
PY
  "$KLAXON_BIN" replay examples/rules --events "$work/shuffled.jsonl" --format json \
    >"$work/s.jsonl"
  if ! cmp -s "$work/a.jsonl" "$work/s.jsonl"; then
    echo "shuffle seed $seed changed the notifications:"
    diff "$work/a.jsonl" "$work/s.jsonl" | head -20
    exit 1
  fi
done
echo "replay determinism: ok ($(wc -l <"$work/a.jsonl") notifications)"

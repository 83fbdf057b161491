#!/usr/bin/env bash
# Seeded adversarial replay: the recorded outage with hostile events mixed in (far-future
# stamps up to the year 2999, far-past stamps, duplicate keys, two events on one line, a
# byte-order mark, white-space lines) gives exactly the notifications of the clean log, counts
# every hostile event by its reason, and stays within bounded memory.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export HOOK_URL="http://127.0.0.1:9/hook" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
rules="$SRC/tests/scripts/e2e/outage.rules"
log="$SRC/examples/events/outage.jsonl.gz"

"$KLAXON_BIN" replay "$rules" --events "$log" --format json | replay_keys >"$WORK/want"
[ "$(wc -l <"$WORK/want")" -ge 5 ] || fail "replay of the clean log gave too little"

python3 - "$log" "$WORK/hostile.jsonl" "$WORK/expected_counts" <<'PY'
import gzip, json, random, sys
rng = random.Random(20261127)
lines = gzip.open(sys.argv[1], "rt").read().splitlines()
out = ["\ufeff" + lines[0]]  # a byte-order mark before the first event
counts = {"future_timestamp": 0, "late": 0, "trailing_content": 0}
for i, line in enumerate(lines[1:], 1):
    out.append(line)
    if i < 100 or rng.random() > 0.05:
        continue
    ev = json.loads(line)
    kind = rng.choice(["future", "past", "dupkey", "two", "blank"])
    if kind == "future":
        ev["timestamp"] = rng.choice([32503680000, 4102444800, 1900000000, "2999-01-01T00:00:00Z"])
        out.append(json.dumps(ev))
        counts["future_timestamp"] += 1
    elif kind == "past":
        ev["timestamp"] = rng.choice([0, 86400, 1700000000, "2023-11-14T22:13:20+01:00"])
        out.append(json.dumps(ev))
        counts["late"] += 1
    elif kind == "dupkey":
        # The last value of a duplicated key counts: a far-future one is rejected.
        body = json.dumps(ev)[1:]
        out.append('{"timestamp":32503680000,' + body[:-1] + ',"timestamp":32503680000}')
        counts["future_timestamp"] += 1
    elif kind == "two":
        out.append(line + line)
        counts["trailing_content"] += 1
    else:
        out.append(" \t ")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
open(sys.argv[3], "w").write(json.dumps(counts))
PY

# Peak memory of the replay, from the kernel's accounting of the finished child.
python3 - "$KLAXON_BIN" "$rules" "$WORK" <<'PY' || fail "hostile replay failed"
import json, resource, subprocess, sys
klaxon, rules, work = sys.argv[1:4]
with open(f"{work}/got.json", "w") as out, open(f"{work}/err", "w") as err:
    code = subprocess.call([klaxon, "replay", rules, "--events", f"{work}/hostile.jsonl",
                            "--format", "json"], stdout=out, stderr=err)
peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"peak RSS {peak_mib:.0f} MiB, exit {code}")
assert code == 0, open(f"{work}/err").read()
assert peak_mib < 256, f"peak RSS {peak_mib:.0f} MiB"
PY
replay_keys <"$WORK/got.json" >"$WORK/got"
diff "$WORK/want" "$WORK/got" || fail "hostile events changed the notifications"

# The summary counts every hostile event by its reason, and the late ones.
python3 - "$WORK/expected_counts" "$WORK/err" <<'PY' || fail "hostile events not reported"
import json, re, sys
want = json.load(open(sys.argv[1]))
err = open(sys.argv[2]).read()
summary = err.splitlines()[0]
def count(reason):
    m = re.search(rf"\b{reason} (\d+)\b", summary)
    return int(m.group(1)) if m else 0
assert want["future_timestamp"] > 0 and want["trailing_content"] > 0, want
assert count("future_timestamp") == want["future_timestamp"], (want, summary)
# Two events on one line are never half-read: trailing_content, or invalid_json where the
# line is deep enough to be validated whole first.
assert count("trailing_content") + count("invalid_json") == want["trailing_content"], (want, summary)
assert count("trailing_content") > 0, summary
assert re.search(rf"\b{want['late']} late\b", summary), (want["late"], summary)
PY
echo "hostile replay: ok ($(wc -l <"$WORK/want") notifications, $(cat "$WORK/expected_counts"))"

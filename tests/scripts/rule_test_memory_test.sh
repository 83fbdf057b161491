#!/usr/bin/env bash
# klaxon test compares expected and produced notifications in linear memory: 1,000 expected
# against 1,000,000 produced used to need a 1,001 x 1,000,001 table (4 GB, bad_alloc). Under a
# 1.5 GB address-space limit the case must run to its verdict, with a bounded diff.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cat >"$WORK/every.rules" <<'RULES'
rule every-error {
  when level:error
}
RULES
# Sanitizer builds (make test-sanitize sets KLAXON_SANITIZE=1) reserve terabytes of address
# space up front, so no limit can apply there, and run ten times slower: a tenth of the events.
produced=1000000
limit() { ulimit -v 1500000; }
if [ "${KLAXON_SANITIZE:-}" = 1 ] || ! (limit && "$KLAXON_BIN" version >/dev/null 2>&1); then
  produced=100000
  limit() { :; }
fi
python3 - "$WORK/big.test.yaml" "$produced" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("rule_files: [every.rules]\nstart: 2025-11-25T00:00:00Z\ntests:\n")
    f.write("  - name: a million notifications\n")
    f.write(f"    events:\n      - {{at: 0s, every: 1ms, times: {sys.argv[2]}, event: {{level: error}}}}\n")
    f.write("    expect:\n")
    for i in range(1000):
        f.write(f"      - {{at: {i}ms, rule: every-error}}\n")
PY

rc=0
(limit && exec "$KLAXON_BIN" test "$WORK/big.test.yaml") >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc, want 1 (a failing case): $(tail -5 "$WORK/err")"
grep -q "^FAIL" "$WORK/out" || fail "no FAIL line"
grep -q "^0 passed, 1 failed" "$WORK/out" || fail "no summary: $(tail -3 "$WORK/out")"
grep -q "^  ... and $((produced - 1000)) more lines" "$WORK/out" || fail "diff not bounded: $(tail -3 "$WORK/out")"
grep -q "$produced events read, 0 rejected, 0 late" "$WORK/err" || fail "summary: $(cat "$WORK/err")"
echo "rule test memory: ok"

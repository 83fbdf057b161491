#!/usr/bin/env bash
# The shipped rule unit tests (examples/tests) pass, one for every example rule file, and a
# wrong expectation fails with exit 1 and a readable diff.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SRC"

for rules in examples/rules/*.rules; do
  name=$(basename "$rules" .rules)
  [ -f "examples/tests/$name.test.yaml" ] || fail "no examples/tests/$name.test.yaml for $rules"
done
"$KLAXON_BIN" test examples/tests/*.test.yaml >"$WORK/out" || { cat "$WORK/out"; fail "klaxon test failed"; }
grep -q " 0 failed" "$WORK/out" || fail "unexpected summary"

sed -e 's/at: 1m10s, rule: orders-db-errors, state: resolved/at: 1m11s, rule: orders-db-errors, state: resolved/' \
  -e "s|\.\./rules/|$SRC/examples/rules/|" examples/tests/orders.test.yaml >"$WORK/bad.test.yaml"
if "$KLAXON_BIN" test "$WORK/bad.test.yaml" >"$WORK/bad.out"; then fail "a wrong expectation passed"; fi
grep -q "^FAIL" "$WORK/bad.out" || fail "no FAIL line"
grep -q "^  + at 2025-11-25T00:01:10.000Z (+1m10s) orders-db-errors resolved" "$WORK/bad.out" ||
  fail "diff lacks the unexpected line: $(cat "$WORK/bad.out")"
grep -q "^  - at 2025-11-25T00:01:11.000Z (+1m11s) orders-db-errors resolved.*(missing)" "$WORK/bad.out" ||
  fail "diff lacks the missing line"

printf 'rule_files: [nope.rules]\ntests: []\n' >"$WORK/broken.test.yaml"
if "$KLAXON_BIN" test "$WORK/broken.test.yaml" >/dev/null 2>"$WORK/broken.err"; then
  fail "a test file naming a missing rule file passed"
fi
grep -q "nope.rules" "$WORK/broken.err" || fail "missing rule file not named"
echo "rule unit tests: ok"

#!/usr/bin/env bash
# Exit statuses are promtool's for every command: 0 ok, 1 problems found, 2 usage or I/O
# error. Each --help says so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# expect CODE COMMAND...: runs the command and checks its exit status.
expect() {
  local want=$1 rc=0
  shift
  "$@" >"$WORK/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || fail "exit $rc, want $want: $* :: $(head -5 "$WORK/out")"
}
K="$KLAXON_BIN"

cat >"$WORK/good.rules" <<'RULES'
action ops = log(path: "WORK/log.jsonl")
action blocked = webhook(url: "http://127.0.0.1:9/hook")
rule r {
  when frequency > 2/min for service:orders-api
  then ops
}
RULES
sed -i "s|WORK|$WORK|" "$WORK/good.rules"
printf 'rule r {\n  when frequency > 2/min for service:orders-api\n  then nope\n}\n' >"$WORK/bad.rules"
printf 'rule   r {\n  when frequency > 2/min\n}\n' >"$WORK/ugly.rules"
: >"$WORK/empty.jsonl"
cat >"$WORK/pass.test.yaml" <<'YAML'
rule_files: [good.rules]
tests:
  - name: nothing happens
    events: []
YAML
cat >"$WORK/fail.test.yaml" <<'YAML'
rule_files: [good.rules]
tests:
  - name: expects what never comes
    expect: [{at: 1s, rule: r}]
YAML
cat >"$WORK/typo.test.yaml" <<'YAML'
rule_files: [good.rules]
tests:
  - name: a typo
    expcet: []
YAML

for c in check fmt test replay notify import; do
  expect 0 "$K" "$c" --help
  grep -q "2 usage or I/O error" "$WORK/out" || fail "klaxon $c --help does not document exit 2"
  expect 2 "$K" "$c" --no-such-flag
  expect 2 "$K" "$c"
done

expect 0 "$K" check "$WORK/good.rules"
expect 1 "$K" check "$WORK/bad.rules"
expect 2 "$K" check "$WORK/missing.rules"

expect 0 "$K" fmt "$WORK/good.rules"
expect 0 "$K" fmt --check "$WORK/good.rules"
expect 1 "$K" fmt --check "$WORK/ugly.rules"
expect 2 "$K" fmt --check "$WORK/missing.rules"

expect 0 "$K" test "$WORK/pass.test.yaml"
expect 1 "$K" test "$WORK/fail.test.yaml"
expect 1 "$K" test "$WORK/typo.test.yaml"
expect 2 "$K" test "$WORK/missing.test.yaml"

expect 0 "$K" replay "$WORK/good.rules" --events "$WORK/empty.jsonl"
expect 1 "$K" replay "$WORK/bad.rules" --events "$WORK/empty.jsonl"
# Refused rule files: no events are read, and none are claimed to be.
printf '{"timestamp": 1700000000}\n' >"$WORK/one.jsonl"
expect 1 "$K" replay "$WORK/bad.rules" --events "$WORK/one.jsonl"
grep -q "event.* read" "$WORK/out" && fail "refused rules, yet: $(cat "$WORK/out")"
mkdir -p "$WORK/norules"
expect 1 "$K" replay "$WORK/norules" --events "$WORK/one.jsonl"
grep -q "event.* read" "$WORK/out" && fail "no rules, yet: $(cat "$WORK/out")"
# Rule files that define no rule: check warns, replay refuses before reading an event.
printf 'action ops = log(path: "-")\n' >"$WORK/actions.rules"
expect 0 "$K" check "$WORK/actions.rules"
grep -q "warning: no rules in" "$WORK/out" || fail "no warning: $(cat "$WORK/out")"
expect 1 "$K" replay "$WORK/actions.rules" --events "$WORK/one.jsonl"
grep -q "event.* read" "$WORK/out" && fail "no rules, yet: $(cat "$WORK/out")"
expect 2 "$K" replay "$WORK/missing.rules" --events "$WORK/empty.jsonl"
expect 2 "$K" replay "$WORK/good.rules" --events "$WORK/missing.jsonl"

expect 0 "$K" notify "$WORK/good.rules" --action ops
expect 1 "$K" notify "$WORK/good.rules" --action blocked --timeout 5s
expect 1 "$K" notify "$WORK/bad.rules" --action ops
expect 2 "$K" notify "$WORK/good.rules" --action nope
expect 2 "$K" notify "$WORK/good.rules" --action ops --rule nope
expect 2 "$K" notify "$WORK/missing.rules" --action ops
printf '{"name": "n", "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"}]}\n' >"$WORK/sentry.json"
printf '{"name": "n", "conditions": [{"id": "sentry.rules.conditions.regression_event.RegressionEventCondition"}]}\n' >"$WORK/dropped.json"
printf '{"name": "n",\n' >"$WORK/malformed.json"
expect 0 "$K" import sentry "$WORK/sentry.json"
expect 1 "$K" import sentry "$WORK/dropped.json"
expect 0 "$K" import sentry "$WORK/dropped.json" --partial
expect 1 "$K" import sentry "$WORK/malformed.json"
expect 2 "$K" import sentry "$WORK/missing.json"
expect 2 "$K" import nagios "$WORK/sentry.json"

# run documents its exit statuses like the others; version takes no argument.
expect 0 "$K" run --help
grep -q "Exit status: 0" "$WORK/out" || fail "klaxon run --help does not document its exit statuses"
grep -q "2 usage error" "$WORK/out" || fail "klaxon run --help does not document exit 2"
expect 2 "$K" run --no-such-flag
expect 0 "$K" version
expect 0 "$K" version --help
expect 2 "$K" version --bogus
grep -q "unexpected argument '--bogus'" "$WORK/out" || fail "klaxon version --bogus: $(cat "$WORK/out")"
echo "exit codes: ok"

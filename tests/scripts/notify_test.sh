#!/usr/bin/env bash
# klaxon notify sends one test notification through the real delivery path: the SSRF guard
# refuses a loopback receiver unless allowed, the request is signed, and the secret never
# appears in what the command prints.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start_receiver hook
export HOOK_URL="$RECEIVER_URL/T0123/very-secret-path" HOOK_SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
cat >"$WORK/n.rules" <<'RULES'
action hook = webhook(url: env("HOOK_URL"), secret: env("HOOK_SECRET"))
rule orders-db-errors {
  when frequency > 5/min for service:orders-api
  summary "{{count}} errors on orders-api"
  then hook
}
RULES

if "$KLAXON_BIN" notify "$WORK/n.rules" --action hook --timeout 5s >"$WORK/out1" 2>&1; then
  fail "a loopback receiver was reached without --allow"
fi
grep -q "loopback" "$WORK/out1" || fail "no reason given: $(cat "$WORK/out1")"
[ "$(wc -l <"$WORK/hook.jsonl")" = 0 ] || fail "the blocked request arrived"

"$KLAXON_BIN" notify "$WORK/n.rules" --action hook --allow 127.0.0.1 >"$WORK/out2" 2>&1 ||
  fail "notify failed: $(cat "$WORK/out2")"
grep -q "accepted by the receiver" "$WORK/out2" || fail "no success message"
wait_lines "$WORK/hook.jsonl" 1 5 || fail "receiver got nothing"
grep -q '"webhook-signature": "v1,' "$WORK/hook.jsonl" || fail "request not signed"
grep -q '"name": "orders-db-errors"' "$WORK/hook.jsonl" || fail "not built from the rule"
# The rule's id (engine/rule_id.cpp) is in the payload, not "".
grep -Eq '"id": "[0-9a-f]{16}"' "$WORK/hook.jsonl" || fail "no rule id: $(cat "$WORK/hook.jsonl")"

if grep -q -e "very-secret-path" -e "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" "$WORK/out1" "$WORK/out2"; then
  fail "a secret was printed"
fi
# A receiver answering one byte per second never trips the per-read timeout; --timeout bounds
# the whole command anyway.
start_receiver slow --trickle 1
export HOOK_URL="$RECEIVER_URL/T0123/very-secret-path"
started=$(date +%s)
if timeout 60 "$KLAXON_BIN" notify "$WORK/n.rules" --action hook --allow 127.0.0.1 \
  --timeout 3s >"$WORK/out4" 2>&1; then
  fail "a trickling receiver counted as accepted"
fi
elapsed=$(($(date +%s) - started))
[ "$elapsed" -le 6 ] || fail "notify --timeout 3s took ${elapsed}s against a trickling receiver"
grep -q "timeout" "$WORK/out4" || fail "no timeout reported: $(cat "$WORK/out4")"

"$KLAXON_BIN" notify "$WORK/n.rules" --action nope >"$WORK/out3" 2>&1 && fail "unknown action accepted"
grep -q "defined actions: hook" "$WORK/out3" || fail "unknown action: $(cat "$WORK/out3")"
echo "notify: ok"

#!/usr/bin/env bash
# `klaxon import` is faithful: each Sentry or ElastAlert rule below, imported and replayed over
# the recorded outage (examples/events/outage.jsonl.gz), gives exactly the notifications (time,
# rule, state, group, value) of a rule written by hand from the source tool's documented
# meaning. Every case must notify at least once, so that a comparison of nothing cannot pass.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

K="$KLAXON_BIN"
EVENTS="$SRC/examples/events/outage.jsonl.gz"
cases=0

# notifications RULES: the replayed notifications without action names, one JSON per line.
notifications() {
  "$K" replay "$1" --events "$EVENTS" --format json --until 2025-11-25T02:00:00Z 2>"$WORK/replay.err" |
    jq -c '{at, rule, state, group, value}' || fail "replay of $1 failed: $(cat "$WORK/replay.err")"
}

# equivalent FORMAT NAME: imports $WORK/NAME.in (FORMAT sentry|elastalert), drops the actions
# (replay needs no receivers), and compares with the hand-written $WORK/NAME.want.rules.
equivalent() {
  local format=$1 name=$2
  "$K" import "$format" "$WORK/$name.in" >"$WORK/$name.imported.rules" 2>"$WORK/$name.import.err" ||
    fail "$name: klaxon import failed: $(cat "$WORK/$name.import.err")"
  grep -v '^action ' "$WORK/$name.imported.rules" | grep -v '^  then ' >"$WORK/$name.got.rules"
  "$K" check "$WORK/$name.got.rules" >/dev/null 2>&1 || fail "$name: imported rules do not check"
  notifications "$WORK/$name.got.rules" >"$WORK/$name.got.jsonl"
  notifications "$WORK/$name.want.rules" >"$WORK/$name.want.jsonl"
  [ -s "$WORK/$name.want.jsonl" ] || fail "$name: the hand-written rule never notifies on this log"
  if ! diff "$WORK/$name.want.jsonl" "$WORK/$name.got.jsonl" >"$WORK/$name.diff"; then
    fail "$name: imported rules notify differently:
$(cat "$WORK/$name.imported.rules")
$(head -20 "$WORK/$name.diff")"
  fi
  cases=$((cases + 1))
}

# --- Sentry: issue alerts count and fire per issue ----------------------------------------

cat >"$WORK/s-frequency.in" <<'JSON'
{"name": "Payments bursts", "actionMatch": "all", "filterMatch": "all", "frequency": 5,
 "environment": "production",
 "conditions": [{"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                 "value": 12, "interval": "1m", "comparisonType": "count"}],
 "filters": [{"id": "sentry.rules.filters.tagged_event.TaggedEventFilter",
              "key": "service", "match": "eq", "value": "payments"}],
 "actions": [{"id": "sentry.integrations.slack.notify_action.SlackNotifyServiceAction",
              "workspace": 1, "channel": "#payments"}]}
JSON
cat >"$WORK/s-frequency.want.rules" <<'RULES'
rule payments-bursts {
  when frequency > 12/min for service:payments environment:production
  group by issue
  repeat every 5m
}
RULES
equivalent sentry s-frequency

cat >"$WORK/s-any-filter.in" <<'JSON'
{"name": "Index or token trouble", "actionMatch": "all", "filterMatch": "any", "frequency": 10,
 "conditions": [{"id": "sentry.rules.conditions.every_event.EveryEventCondition"}],
 "filters": [{"id": "sentry.rules.filters.event_attribute.EventAttributeFilter",
              "attribute": "exception.type", "match": "eq", "value": "IndexMissing"},
             {"id": "sentry.rules.filters.tag.TagFilter", "key": "region", "match": "eq",
              "value": "eu-west-1"},
             {"id": "sentry.rules.filters.level.LevelFilter", "match": "gte", "level": "50"}],
 "actions": []}
JSON
cat >"$WORK/s-any-filter.want.rules" <<'RULES'
rule index-or-token-trouble {
  when exception.type:IndexMissing OR region:eu-west-1 OR level:fatal
  group by issue
  repeat every 10m
}
RULES
equivalent sentry s-any-filter

cat >"$WORK/s-matches.in" <<'JSON'
{"name": "Tag operators", "actionMatch": "all", "filterMatch": "all",
 "conditions": [{"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                 "value": 5, "interval": "5m"}],
 "filters": [
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "transaction", "match": "sw", "value": "/payments/"},
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "region", "match": "ne", "value": "eu-west-1"},
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "message", "match": "nc", "value": "declined"},
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "browser", "match": "is"},
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "url", "match": "ew", "value": "/charge"},
   {"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "server_name", "match": "co", "value": "payments"}],
 "actions": []}
JSON
cat >"$WORK/s-matches.want.rules" <<'RULES'
rule tag-operators {
  when frequency > 5 in 5m for transaction:/payments/* !region:eu-west-1 !message:*declined* has:browser http.url:*/charge server_name:*payments*
  group by issue
  repeat every 30m
}
RULES
equivalent sentry s-matches

cat >"$WORK/s-any-conditions.in" <<'JSON'
{"name": "New auth issue or many users", "actionMatch": "any", "filterMatch": "all",
 "frequency": 15,
 "conditions": [{"id": "sentry.rules.conditions.first_seen_event.FirstSeenEventCondition"},
                {"id": "sentry.rules.conditions.event_frequency.EventUniqueUserFrequencyCondition",
                 "value": 30, "interval": "5m"}],
 "filters": [{"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "service",
              "match": "eq", "value": "auth"}],
 "actions": []}
JSON
cat >"$WORK/s-any-conditions.want.rules" <<'RULES'
rule new-auth-issue-or-many-users {
  when new(issue) for service:auth
}

rule new-auth-issue-or-many-users-2 {
  when unique(user.id) > 30 in 5m for service:auth
  group by issue
  repeat every 15m
}
RULES
equivalent sentry s-any-conditions

cat >"$WORK/s-percent.in" <<'JSON'
{"name": "Errors up by half", "actionMatch": "all", "filterMatch": "none", "frequency": 30,
 "conditions": [{"id": "sentry.rules.conditions.event_frequency.EventFrequencyCondition",
                 "value": 50, "interval": "5m", "comparisonType": "percent",
                 "comparisonInterval": "15m"}],
 "filters": [{"id": "sentry.rules.filters.tagged_event.TaggedEventFilter", "key": "environment",
              "match": "eq", "value": "staging"},
             {"id": "sentry.rules.filters.level.LevelFilter", "match": "lte", "level": "30"}],
 "actions": []}
JSON
cat >"$WORK/s-percent.want.rules" <<'RULES'
rule errors-up-by-half {
  when frequency in 5m > 150% of 15m ago for NOT environment:staging AND NOT level:[debug, info, warning]
  group by issue
  repeat every 30m
}
RULES
equivalent sentry s-percent

# --- ElastAlert2 -----------------------------------------------------------------------------

cat >"$WORK/e-frequency.in" <<'YAML'
name: search query timeouts
type: frequency
index: sentry-*
num_events: 10
timeframe: {minutes: 2}
query_key: environment
realert: {minutes: 5}
filter:
- query_string:
    query: 'service:search AND exception.type:QueryTimeout'
alert: [slack]
slack_webhook_url: "https://hooks.slack.com/services/T0/B0/X"
YAML
cat >"$WORK/e-frequency.want.rules" <<'RULES'
rule search-query-timeouts {
  when frequency >= 10/2m for service:search exception.type:QueryTimeout
  group by environment
  repeat every 5m
}
RULES
equivalent elastalert e-frequency

cat >"$WORK/e-any.in" <<'YAML'
name: index and token errors outside staging
type: any
filter:
- bool:
    must:
    - terms: {exception.type: [IndexMissing, TokenExpired]}
    must_not:
    - term: {environment.keyword: staging}
    should:
    - term: {level: fatal}
YAML
cat >"$WORK/e-any.want.rules" <<'RULES'
rule index-and-token-errors-outside-staging {
  when exception.type:[IndexMissing, TokenExpired] AND NOT environment:staging
  repeat every 1m
}
RULES
equivalent elastalert e-any

cat >"$WORK/e-flatline.in" <<'YAML'
name: checkout silent
type: flatline
threshold: 1
timeframe: {minutes: 5}
realert: {minutes: 0}
filter:
- term: {service: checkout}
YAML
cat >"$WORK/e-flatline.want.rules" <<'RULES'
rule checkout-silent {
  when frequency < 1 in 5m for service:checkout
}
RULES
equivalent elastalert e-flatline

cat >"$WORK/e-spike.in" <<'YAML'
name: auth spike
type: spike
timeframe: {minutes: 5}
spike_height: 2
spike_type: both
realert: {minutes: 10}
filter:
- query_string: {query: 'service:auth'}
YAML
cat >"$WORK/e-spike.want.rules" <<'RULES'
rule auth-spike-up {
  when frequency in 5m >= 200% of 5m ago for service:auth
  repeat every 10m
}

rule auth-spike-down {
  when frequency in 5m <= 50% of 5m ago for service:auth
  repeat every 10m
}
RULES
equivalent elastalert e-spike

cat >"$WORK/e-cardinality.in" <<'YAML'
name: auth many users
type: cardinality
cardinality_field: user.id
max_cardinality: 150
timeframe: {minutes: 5}
filter:
- query_string: {query: 'service:auth AND exception.type:LoginFailed'}
YAML
cat >"$WORK/e-cardinality.want.rules" <<'RULES'
rule auth-many-users {
  when unique(user.id) > 150 in 5m for service:auth exception.type:LoginFailed
  repeat every 1m
}
RULES
equivalent elastalert e-cardinality

cat >"$WORK/e-percentage.in" <<'YAML'
name: payments timeouts share
type: percentage_match
buffer_time: {minutes: 10}
max_percentage: 20
filter:
- term: {service: payments}
match_bucket_filter:
- term: {exception.type: GatewayTimeout}
YAML
cat >"$WORK/e-percentage.want.rules" <<'RULES'
rule payments-timeouts-share {
  when ratio(exception.type:GatewayTimeout, service:payments) > 20% in 10m
  repeat every 1m
}
RULES
equivalent elastalert e-percentage

cat >"$WORK/e-new-term.in" <<'YAML'
name: new release
type: new_term
fields: [release]
filter:
- term: {level: error}
YAML
cat >"$WORK/e-new-term.want.rules" <<'RULES'
rule new-release {
  when new(release) for level:error
  repeat every 1m
}
RULES
equivalent elastalert e-new-term

[ "$cases" = 12 ] || fail "ran $cases cases"
echo "import equivalence: $cases cases ok"

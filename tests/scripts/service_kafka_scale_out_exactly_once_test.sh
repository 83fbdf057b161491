#!/usr/bin/env bash
# scale_out.exactly_once (docs/scale_out.md, "Exactly once with transactions"): stage 1 runs
# Kafka's consume-transform-produce loop, so a stage-1 instance killed mid-stream re-sends
# nothing. Three instances (a, b, c: static membership) share one group on an 8-partition topic
# while the outage log is produced live for 45 s; 15 s into it a is killed with kill -9 and stays
# dead. Its input partitions go to b and c, which read them from the offsets a's last committed
# transaction sent; what a produced after that is in its open transaction, which the broker
# aborts (transaction.timeout.ms), so stage 2 (read_committed) never sees it.
# Checked: the receiver gets exactly replay's notifications, each under one idempotency key, and
# stage 2 dropped no re-sent record on b or c (klaxon_scale_out_records_total{result="duplicate"}
# stays 0; without exactly_once the same kill re-sends what a read since its last offset commit,
# and stage 2 drops those as duplicates: SO_EXACTLY_ONCE=false runs this scenario that way, and
# then fails on the duplicates).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scale_out_lib.sh"

export SO_EXACTLY_ONCE=${SO_EXACTLY_ONCE:-true}
so_want
topic=eo app=klaxon-eo
so_topic "$topic"
so_start_three "$topic" "$app"
grep -q "exactly_once=$SO_EXACTLY_ONCE" "$WORK/a.log" || fail "a: not exactly_once=$SO_EXACTLY_ONCE"

start=$SECONDS
so_produce_live "$topic" 45 &
producer=$!
PIDS+=("$producer")
wait_s=$((start + 15 - SECONDS))
[ "$wait_s" -le 0 ] || sleep "$wait_s"
kill -0 "$producer" 2>/dev/null || fail "the log ended before the kill"
# a is mid-stream: it has routed records (in transactions, with exactly_once).
[ "$(so_metric a klaxon_scale_out_routed_records_total)" -gt 0 ] || fail "a routed nothing"
echo "$(date +%T) kill -9 a"
so_kill a
wait "$producer" || fail "the producer failed"
echo "$(date +%T) the log is produced"

so_compare exactly-once 120 || {
  for name in a b c; do grep -E 'scale-out|transaction|revoked|error' "$WORK/$name.log" | tail -8; done
  fail "b and c (and a before its kill) disagree with replay"
}
# duplicate: stage 2's records dropped as re-sent; committed: stage 1's transactions.
for name in b c; do
  duplicates=$(so_metric "$name" 'klaxon_scale_out_records_total{result="duplicate"}')
  committed=$(so_metric "$name" 'klaxon_scale_out_route_transactions_total{result="committed"}')
  aborted=$(so_metric "$name" 'klaxon_scale_out_route_transactions_total{result="aborted"}')
  echo "  $name: duplicates $duplicates, stage-1 transactions committed $committed, aborted $aborted"
  [ -n "$duplicates" ] || fail "$name: no klaxon_scale_out_records_total on /metrics"
  [ "$duplicates" = 0 ] || fail "$name: stage 2 dropped $duplicates re-sent records"
  if [ "$SO_EXACTLY_ONCE" = true ]; then
    [ "$committed" -gt 0 ] || fail "$name: no stage-1 transaction committed"
  fi
done
so_stop b c
# What the repartition topic holds beyond what stage 2 could read: the records of aborted
# transactions (a's open one at its kill, and those a rebalance aborted), never evaluated.
count() {
  kcat -C -b "$BROKERS" -t "$app-repartition" -o beginning -e -q -f 'x\n' \
    -X isolation.level="$1" | wc -l
}
echo "  repartition records: $(count read_committed) committed, $(count read_uncommitted) in all"
for name in b c; do so_totals "$name"; done
echo "scale_out exactly_once: ok ($want notifications equal to replay's across a kill -9," \
  "no record re-sent)"

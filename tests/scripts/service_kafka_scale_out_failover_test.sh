#!/usr/bin/env bash
# scale_out failover (docs/scale_out.md, issue 14): instances die, stop and join while the
# outage log is produced live, and a moved task carries on from its changelog on its new owner.
# Three instances (a, b, c: static membership) share one group on an 8-partition topic; the log
# flows for 72 s of wall time; 18 s into it a is killed with kill -9, 36 s in b stops (SIGTERM),
# 48 s in a fourth instance d (a dynamic member, no group.instance.id) joins. The receiver gets
# from all of them together exactly replay's notifications, none under two idempotency keys,
# both for outage.rules (`group by environment` and rules without groups: every group's events
# come through every input partition) and for e2e/partition_keyed.rules (each group's events
# through one partition). Delivery is at least once: a task moved after its last checkpoint
# evaluates the records since then again, so a notification may arrive twice under its key (the
# test prints how many did).
# Every instance keeps warm standbys (scale_out.warm_standby): a task taken over starts from the
# copy its new owner kept and reads only the changelog written since; d, which joins late, reads
# the changelog from its beginning. The test checks that standbys were used.
# a's outbox dies with it: a notification a computed and checkpointed but had not delivered yet
# would be lost, as on any lost machine; to a local receiver that window is milliseconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scale_out_lib.sh"

export SO_WARM_STANDBY=true
so_want
topic=failover app=klaxon-failover
so_topic "$topic"
so_start_three "$topic" "$app"
# c keeps a standby of each task assigned to a and b.
port=$(admin_port "$WORK/c.log")
standbys=$(curl -s "http://127.0.0.1:$port/metrics" |
  awk '$1 == "klaxon_scale_out_tasks{state=\"standby\"}" { print $2 }')
[ "${standbys:-0}" -gt 0 ] || fail "c: no warm standbys (klaxon_scale_out_tasks: ${standbys:-missing})"

start=$SECONDS
so_produce_live "$topic" 72 &
producer=$!
PIDS+=("$producer")
# at SECONDS WHAT: waits until SECONDS after the log started flowing; fails if it already ended
# (the scenario is meant to happen mid-stream).
at() {
  local wait=$((start + $1 - SECONDS))
  [ "$wait" -le 0 ] || sleep "$wait"
  kill -0 "$producer" 2>/dev/null || fail "the log ended before $2"
  echo "$(date +%T) $2"
}
at 21 "kill -9 a"
so_kill a
at 39 "SIGTERM b"
so_stop b
at 51 "d joins"
so_start d "$topic" "$app"
wait "$producer" || fail "the producer failed"
echo "$(date +%T) the log is produced"

so_compare failover 120 || {
  for name in a b c d; do grep -E 'scale-out|restor|revoked|error' "$WORK/$name.log" | tail -8; done
  fail "a, b, c and d together disagree with replay"
}
so_stop c d
# b, c and d (a's totals died with it). A record re-sent by stage 1 is dropped by stage 2 as a
# duplicate: the input partitions a held are read again by their new owners from the offsets a
# last committed, so duplicates are expected after its kill -9. Nothing is late: a restored task
# has the event time of its checkpoint, and the records after it are newer.
for name in b c d; do so_totals "$name" duplicates_ok; done
warm=$(($(so_total b standby_restores) + $(so_total c standby_restores) + $(so_total d standby_restores)))
[ "$warm" -gt 0 ] || fail "no task was taken over from a warm standby"
echo "  restores from a warm standby: $warm"
echo "scale_out failover: ok ($want notifications equal to replay's across kill -9, SIGTERM," \
  "a join)"

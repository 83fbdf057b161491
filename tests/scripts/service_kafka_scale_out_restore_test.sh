#!/usr/bin/env bash
# scale_out restore (docs/scale_out.md, issue 14): a task's state comes back from the changelog
# topic on a fresh machine. One instance evaluates the first half of the outage log (8 input
# partitions, groups spread over all of them and groups in one partition each), stops, and its
# whole directory (the outbox included) is deleted; a new instance on a new directory evaluates
# the second half. The receiver gets, from both together, exactly replay's notifications over the
# whole log, none under two idempotency keys: episodes open at the stop (a window's counts, a
# firing alert, events held for lateness, the event time) carry on as if nothing had happened.
#   term  the first instance stops with SIGTERM; both are dynamic members of the group
#   kill  the first instance is killed with kill -9; the second has its static membership name
#         (group.instance.id), so it takes the partitions at once and fences the dead one
# The first instance is stopped only once its notifications were delivered: a fresh machine has
# lost its outbox, and what it held undelivered is gone with it; this test is about the state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scale_out_lib.sh"

so_want
half=$((events / 2))

# restore VARIANT STOP [STATIC]: the scenario above, stopping the first instance with STOP
# (so_stop or so_kill).
restore() {
  local variant=$1 stop=$2 static=${3:-} topic=restore-$1 app=klaxon-restore-$1
  local first=$variant-first second=$variant-second
  : >"$WORK/hook.jsonl"
  TOTAL_READ=0
  so_produce "$topic" 1 "$half"
  so_start "$first" "$topic" "$app" "$static"
  # It has read the half (klaxon_scale_out_input_records_total; a build without that metric
  # gets the quiet period below only), evaluated its records and delivered their notifications:
  # the outbox empty and nothing new for two seconds. All well inside the 30 s after which quiet
  # partitions count as idle and event time would follow the wall clock.
  local read="" seen=-1 quiet=0 now
  for _ in $(seq 120); do
    sleep 0.5
    read=$(so_metric "$first" klaxon_scale_out_input_records_total)
    now=$(wc -l <"$WORK/hook.jsonl")
    [ -z "$read" ] || [ "$read" -ge "$half" ] || continue
    if [ "$now" -gt 0 ] && [ "$now" = "$seen" ] && [ "$(so_metric "$first" klaxon_outbox_size)" = 0 ]; then
      quiet=$((quiet + 1))
      [ "$quiet" -ge 4 ] && break
    else
      quiet=0
    fi
    seen=$now
  done
  [ -z "$read" ] || [ "$read" -ge "$half" ] || fail "$first: read $read of $half events"
  echo "  $first: $(wc -l <"$WORK/hook.jsonl") notifications from the first half"
  "$stop" "$first"
  [ "$stop" = so_stop ] && so_totals "$first"
  rm -rf "${WORK:?}/$first"
  so_produce "$topic" $((half + 1)) "$events"
  so_start "$second" "$topic" "$app" "$static"
  so_compare "$variant" 120 || {
    grep -hE 'scale-out|restor|revoked|error' "$WORK/$first.log" "$WORK/$second.log" | tail -20
    fail "$variant: the first and second instance together disagree with replay"
  }
  so_stop "$second"
  # After kill -9, the first instance's input offsets since its last commit are read again:
  # the records they give are re-sends, dropped by stage 2 (counted as duplicates).
  so_totals "$second" "$([ "$stop" = so_kill ] && echo duplicates_ok)"
  [ "$stop" = so_stop ] && [ "$TOTAL_READ" -lt "$events" ] &&
    fail "$variant: $TOTAL_READ of $events input records read"
  [ "$TOTAL_READ" -ge $((events - half)) ] ||
    fail "$variant: $TOTAL_READ of the second half's $((events - half)) input records read"
  echo "$(date +%T) restore after $variant on a fresh directory: ok"
}

restore term so_stop
restore kill so_kill restore-kill
echo "scale_out restore: ok ($want notifications in each scenario, equal to replay)"

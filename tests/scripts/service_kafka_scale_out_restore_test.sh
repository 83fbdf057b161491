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
#   term-local, kill-local  the same, but the second instance starts on the first one's
#         directory: each task's changelog kept there (service/task_cache.h) gives the state,
#         and only what the changelog got after it is read
# The first instance is stopped only once its notifications were delivered: a fresh machine has
# lost its outbox, and what it held undelivered is gone with it; this test is about the state.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scale_out_lib.sh"

export SO_IDLE_TIMEOUT=60s # the first instance waits for its commits before it stops
so_want
half=$((events / 2))

# restore VARIANT STOP [STATIC [SAME_DIRECTORY]]: the scenario above, stopping the first instance
# with STOP (so_stop or so_kill); with SAME_DIRECTORY the second starts on the first's directory.
restore() {
  local variant=$1 stop=$2 static=${3:-} same=${4:-} topic=restore-$1 app=klaxon-restore-$1
  local first=$variant-first second=$variant-second from_line=1
  [ -n "$same" ] && second=$first
  : >"$WORK/hook.jsonl"
  TOTAL_READ=0
  so_produce "$topic" 1 "$half"
  so_start "$first" "$topic" "$app" "$static"
  local started=$SECONDS
  # It has read the half (klaxon_scale_out_input_records_total; a build without that metric
  # gets the quiet period below only), evaluated its records and delivered their notifications:
  # the outbox empty and nothing new for two seconds. All well inside the 60 s after which quiet
  # partitions count as idle and event time would follow the wall clock.
  local read="" seen=-1 quiet=0 now
  for _ in $(seq 120); do
    sleep 0.5
    read=$(so_metric "$first" klaxon_scale_out_input_records_total)
    now=$(wc -l <"$WORK/hook.jsonl")
    [ -z "$read" ] || [ "$read" -ge "$half" ] || continue
    if [ "$now" -gt 0 ] && [ "$now" = "$seen" ] &&
      [ "$(so_metric "$first" klaxon_outbox_size)" = 0 ]; then
      quiet=$((quiet + 1))
      [ "$quiet" -ge 4 ] && break
    else
      quiet=0
    fi
    seen=$now
  done
  [ -z "$read" ] || [ "$read" -ge "$half" ] || fail "$first: read $read of $half events"
  # Both groups' offsets committed: the input group's at the half's end (stage 1 commits an
  # input offset only once its records are in the repartition topic), then one more commit of the
  # eval group (its offsets grow with the watermark marks that keep coming), which covers those
  # records. The second instance starts from them, not from the beginning, so only the state
  # restored from the changelog can carry the first half's episodes on: without this wait a
  # kill -9 before the first commits would make the second instance read everything again.
  local input eval since
  input=$(so_wait_committed "$app" "$half" 20)
  [ "$input" -ge "$half" ] || fail "$first: $input of $half input offsets committed"
  since=$(so_committed "$app-eval")
  eval=$(so_wait_committed "$app-eval" $((since + 1)) 10)
  [ "$eval" -gt "$since" ] || fail "$first: the eval group committed nothing after the input"
  echo "  $first: $(wc -l <"$WORK/hook.jsonl") notifications from the first half; offsets" \
    "committed: input $input, repartition $eval (after $((SECONDS - started)) s)"
  # Past the idle timeout, event time would have followed the wall clock: not this test's story.
  local limit=50
  [ -n "$same" ] && [ "$stop" = so_kill ] && limit=38 # and 11 s to wait below
  [ $((SECONDS - started)) -lt "$limit" ] ||
    fail "$first: the waits took $((SECONDS - started)) s, too close to the 60 s idle timeout"
  # Killed on its own directory: first a mark of its local caches (every 10 s) after those
  # checkpoints, so that the cache holds some of the state (a kill before that is correct too,
  # the changelog then gives it all, but shows nothing of the cache).
  [ -n "$same" ] && [ "$stop" = so_kill ] && sleep 11
  "$stop" "$first"
  [ "$stop" = so_stop ] && so_totals "$first"
  [ -n "$same" ] && from_line=$(($(wc -l <"$WORK/$first.log") + 1))
  [ -n "$same" ] || rm -rf "${WORK:?}/$first"
  so_produce "$topic" $((half + 1)) "$events"
  so_start "$second" "$topic" "$app" "$static"
  so_compare "$variant" 120 || {
    grep -hE 'scale-out|restor|revoked|error' "$WORK/$first.log" "$WORK/$second.log" | tail -20
    fail "$variant: the first and second instance together disagree with replay"
  }
  so_stop "$second"
  # Each restore was measured while it waited (klaxon_scale_out_restore_lag_records): at least
  # the records it then read (the offsets also count transaction markers).
  # With the first one's directory, every restore starts from its local cache (the changelog may
  # have nothing after it).
  tail -n +"$from_line" "$WORK/$second.log" | grep 'restored from the changelog' |
    python3 -c '
import re, sys
lines = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in sys.stdin]
local = sys.argv[1] == "local"
least = 0 if local else 1
bad = [l for l in lines if not least <= int(l["changelog_records"]) <= int(l["restore_lag"])]
if local:  # every restore started from the cache (empty when no end offset covered a record)
    bad += [l for l in lines if not l["local_records"].isdigit()]
    if not bad and sum(int(l["local_records"]) for l in lines) == 0:
        bad = ["no record came from the local cache"]
if not lines or bad:
    sys.exit("restores measured wrong: " + str(bad or "no restore"))
if local:
    print("  local cache: %d records, then %d read from the changelog" % (
        sum(int(l["local_records"]) for l in lines), sum(int(l["changelog_records"]) for l in lines)))
' "$([ -n "$same" ] && echo local)" ||
    fail "$variant: the restore lag shown is not what the restore read"
  # After kill -9, the first instance's input offsets since its last commit are read again:
  # the records they give are re-sends, dropped by stage 2 (counted as duplicates).
  so_totals "$second" "$([ "$stop" = so_kill ] && echo duplicates_ok)"
  [ "$stop" = so_stop ] && [ "$TOTAL_READ" -lt "$events" ] &&
    fail "$variant: $TOTAL_READ of $events input records read"
  [ "$TOTAL_READ" -ge $((events - half)) ] ||
    fail "$variant: $TOTAL_READ of the second half's $((events - half)) input records read"
  echo "$(date +%T) restore after $variant on $([ -n "$same" ] && echo "the same" || echo "a fresh") directory: ok"
}

restore term so_stop
restore kill so_kill restore-kill
restore term-local so_stop "" same
restore kill-local so_kill restore-kill-local same
echo "scale_out restore: ok ($want notifications in each scenario, equal to replay)"

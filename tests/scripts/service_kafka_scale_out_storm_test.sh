#!/usr/bin/env bash
# scale_out through a rebalance storm (issue 14): while the outage log is produced live to an
# 8-partition topic over about a minute, instances join and leave the deployment every few
# seconds, by SIGTERM and by kill -9, so the tasks of the repartition topic move again and again
# (each move a restore from the changelog). One instance stays throughout and finishes alone.
# The receiver must get exactly replay's notifications (repeats under the same key allowed:
# a moved task evaluates again what followed its last checkpoint) and no notification under two
# keys. Without the changelog every move dropped the windows of the moved tasks and this lost
# notifications. a and c keep warm standbys (scale_out.warm_standby), b and d do not: a task
# moves between both kinds, and a, which takes over the tasks of every instance that leaves,
# must have restored some from its standbys.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/scale_out_lib.sh"

start_broker
outage_want

python3 - "$log" "$WORK/keyed.tsv" <<'PY'
import gzip, sys
with open(sys.argv[2], "w") as out:
    for i, line in enumerate(gzip.open(sys.argv[1], "rt")):
        out.write(f"{i}\t{line}")
PY
topic=storm
echo '{}' | kcat -P -b "$BROKERS" -t "$topic" -p 0 || fail "cannot create $topic"

# start NAME: an instance of the deployment (static membership NAME, 6 s sessions); a and c
# with warm standbys.
start() {
  local standby=false
  case $1 in a | c) standby=true ;; esac
  SO_WARM_STANDBY=$standby so_start "$1" "$topic" storm "$1"
}
start a
for _ in $(seq 300); do
  grep -q 'repartition partition assigned' "$WORK/a.log" && grep -q 'input partition assigned' "$WORK/a.log" && break
  sleep 0.1
done
grep -q 'repartition partition assigned' "$WORK/a.log" || fail "a: no repartition partition"

# The first 8 events one to each partition (none counts idle before it delivered), then the rest
# in 12 chunks 5 s apart, while b, c and d come and go.
for p in 0 1 2 3 4 5 6 7; do
  sed -n "$((p + 1))p" "$WORK/keyed.tsv" | cut -f2- | kcat -P -b "$BROKERS" -t "$topic" -p "$p" ||
    fail "cannot produce"
done
tail -n +9 "$WORK/keyed.tsv" >"$WORK/rest.tsv"
lines=$(wc -l <"$WORK/rest.tsv")
chunk=$(((lines + 11) / 12))
split -l "$chunk" -d -a 2 "$WORK/rest.tsv" "$WORK/chunk."
storm=(
  "start b" "start c" "so_kill b" "start d" "so_stop c" "start b"
  "so_kill d" "start c" "so_stop b" "so_kill c" "start d" "so_stop d"
)
i=0
for f in "$WORK"/chunk.*; do
  kcat -P -b "$BROKERS" -t "$topic" -K $'\t' -l "$f" || fail "cannot produce"
  echo "$(date +%T) chunk $i; ${storm[$i]}"
  ${storm[$i]}
  i=$((i + 1))
  sleep 5
done

# a finishes alone: every notification replay computes, then nothing more.
for _ in $(seq 1800); do
  received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" && break
  sleep 0.1
done
sleep 2
received_keys "$WORK/hook.jsonl" | awk -v last="$last" '$1 <= last' | sort -u >"$WORK/got"
so_stop a
restores=0
for name in a b c d; do
  n=$(grep -c 'restored from the changelog' "$WORK/$name.log" || true)
  restores=$((restores + n))
  grep 'msg="scale-out totals"' "$WORK/$name.log" | sed "s/^/  $name: /; s/ts=[^ ]* level=info //"
done
if ! diff "$WORK/want" "$WORK/got" >"$WORK/diff"; then
  cat "$WORK/diff"
  for name in a b c d; do grep -E 'level=(warn|error)' "$WORK/$name.log" | tail -5; done
  fail "the storm: scale-out and replay disagree"
fi
single_keys "$WORK/hook.jsonl" || fail "a notification under several keys"
[ "$restores" -ge 8 ] || fail "only $restores restores with state: the storm moved too little"
grep 'msg="scale-out totals"' "$WORK/a.log" | grep -q ' standby_restores=0 ' &&
  fail "a took tasks over without its warm standbys"
repeats=$(($(received_keys "$WORK/hook.jsonl" | wc -l) - $(received_keys "$WORK/hook.jsonl" | sort -u | wc -l)))
echo "scale_out storm: ok ($want notifications equal to replay, $restores restores with state, $repeats repeated under their key)"

# Shared set-up of the Kafka benchmarks (sourced, not run): given build (the build folder),
# sets root, klaxon, work (a fresh temporary folder), pids (processes to kill at exit) and
# brokers (a fresh local Apache Kafka broker of scripts/kafka-broker, stopped at exit).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
klaxon="$root/$build/cli/klaxon"
[ -x "$klaxon" ] || klaxon="$build/cli/klaxon"
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-kafka-bench.XXXXXX")
export KLAXON_KAFKA_RUN="$work/kafka"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$root/scripts/kafka-broker" stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
brokers=$("$root/scripts/kafka-broker" start | sed -n 's/^KAFKA_BROKERS=//p')

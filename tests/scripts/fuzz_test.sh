#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time (scripts/fuzz) in a build folder beside the
# test build, from a fixed seed so that the suite's verdict does not depend on luck; `make fuzz`
# explores with fresh seeds. 120 s shared by the targets (30 s each). Skips (exit 0, with a
# message) only when clang++-14 is not installed.
set -euo pipefail
if ! command -v clang++-14 >/dev/null 2>&1; then
  echo "fuzz_test: SKIPPED: clang++-14 is not installed"
  exit 0
fi
source_dir=${KLAXON_SOURCE_DIR:?}
build_dir=${KLAXON_BUILD_DIR:?}
FUZZ_SEED=${KLAXON_FUZZ_SEED:-1} exec "$source_dir/scripts/fuzz" "$build_dir/../fuzz" "${KLAXON_FUZZ_SECONDS:-120}"

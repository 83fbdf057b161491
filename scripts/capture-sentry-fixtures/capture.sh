#!/usr/bin/env bash
# Captures the events that real Sentry SDKs send (sentry-sdk for Python, @sentry/node, sentry-go)
# and writes them to tests/engine/fixtures/sentry/ as the test fixtures.
#
# Usage: scripts/capture-sentry-fixtures/capture.sh [WORK_DIR]   (default: a new /tmp folder)
#        CAPTURE=envelopes scripts/capture-sentry-fixtures/capture.sh [WORK_DIR]
#   The second form runs the Node and Go apps only and writes the raw envelopes they send
#   (Content-Encoding undone) to tests/ingest/fixtures/envelopes/ instead of the events;
#   tests/scripts/sentry_envelopes_test.sh replays them through `klaxon run`.
# Needs python3 (venv), npm and go, and network access to PyPI, npm and the Go module proxy.
# The SDK versions are pinned below; the fixtures record the versions they came from in `sdk`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../tests/engine/fixtures/sentry"
work="${1:-$(mktemp -d /tmp/klaxon-sentry-capture.XXXXXX)}"
port=18765
envelopes=""
if [ "${CAPTURE:-events}" = envelopes ]; then
  envelopes="$here/../../tests/ingest/fixtures/envelopes"
  mkdir -p "$envelopes"
  rm -f "$envelopes"/*.envelope
fi
mkdir -p "$out" "$work"
[ -n "$envelopes" ] || rm -f "$out"/*.json

if [ -z "$envelopes" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q "sentry-sdk==2.75.0"
fi
(cd "$work" && mkdir -p node && cd node && npm init -y >/dev/null && npm install -q "@sentry/node@11.12.0" >/dev/null)
(mkdir -p "$work/go" && cd "$work/go" && cp "$here/go_app.go" main.go && { [ -f go.mod ] || go mod init capture >/dev/null 2>&1; } &&
  go get github.com/getsentry/sentry-go@v0.50.0 >/dev/null 2>&1 && go build -o app .)

receiver_pid=
start() {  # start PREFIX: a receiver writing PREFIX-NN.json
  python3 "$here/receiver.py" "$port" "$out" "$1" $envelopes & receiver_pid=$!
  for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && return; sleep 0.1; done
}
stop() { kill "$receiver_pid"; wait "$receiver_pid" 2>/dev/null || true; }
trap '[ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true' EXIT
export SENTRY_DSN="http://public@127.0.0.1:$port/42"

if [ -z "$envelopes" ]; then
  start python
  "$work/venv/bin/python" "$here/python_app.py" handled
  "$work/venv/bin/python" "$here/python_app.py" again
  "$work/venv/bin/python" "$here/python_app.py" crash || true
  stop
fi

start node
(cd "$work/node" && cp "$here/node_app.js" app.js && node app.js handled && { node app.js crash || true; })
stop

start go
"$work/go/app" handled
"$work/go/app" crash || true
stop
ls "${envelopes:-$out}"

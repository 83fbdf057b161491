#!/usr/bin/env bash
# CTest fixture (not a test): a Python virtual environment with the real Sentry SDK under the
# build folder, created once per build folder and reused (sentry_sdk_test.sh uses it), and
# msgpack, with which sentry_ingest_topic_test.sh writes messages as Relay does.
set -euo pipefail
: "${KLAXON_BUILD_DIR:?}"
SENTRY_SDK_VERSION=2.75.0
MSGPACK_VERSION=1.2.4
VENV="$KLAXON_BUILD_DIR/venv"
if [ -x "$VENV/bin/python" ] &&
  "$VENV/bin/python" -c "import sentry_sdk, msgpack, sys; sys.exit(sentry_sdk.VERSION != '$SENTRY_SDK_VERSION' or msgpack.version != tuple(map(int, '$MSGPACK_VERSION'.split('.'))))" 2>/dev/null; then
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "sentry-sdk==$SENTRY_SDK_VERSION" "msgpack==$MSGPACK_VERSION"
"$VENV/bin/python" -c "import sentry_sdk, msgpack; print('sentry-sdk', sentry_sdk.VERSION, 'msgpack', msgpack.version)"

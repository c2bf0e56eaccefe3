#!/usr/bin/env bash
# CI job for the tests against a real OpenStack: bring the harness cloud up
# (with a time limit), run tests/real_cloud.rs and tests/conformance.rs against
# it, print the harness log tail, and always stop the cloud at the end.
# Fails if the cloud does not come up or a test fails.
#
# usage: tests/cloud/ci.sh
# env:   AZMOVE_CLOUD_UP_TIMEOUT  seconds allowed for `cloud up` (default 1200: a fresh
#                                 machine needs ~5 min incl. apt and pip, a slow one more)
#        AZMOVE_CLOUD_DIR         harness state dir (default <repo>/target/minicloud)
#        AZMOVE_CLOUD_KEEP=1      leave the cloud running at the end (local debugging)
set -uo pipefail
cd "$(dirname "$0")/../.."
CLOUD=tests/cloud/cloud
MC=${AZMOVE_CLOUD_DIR:-$PWD/target/minicloud}
LIMIT=${AZMOVE_CLOUD_UP_TIMEOUT:-1200}

finish() {
  local rc=$?
  if [ -n "${AZMOVE_CLOUD_KEEP:-}" ]; then
    echo "== AZMOVE_CLOUD_KEEP is set: the cloud keeps running ($MC/clouds.yaml)"
  else
    echo "== stopping the cloud"
    "$CLOUD" down || rc=1
  fi
  exit $rc
}
trap finish EXIT

echo "== bringing the real cloud up (limit ${LIMIT}s)"
start=$SECONDS
if ! timeout --kill-after=30 "$LIMIT" "$CLOUD" up; then
  echo "== the cloud did not come up within ${LIMIT}s (or failed); harness log:"
  "$CLOUD" logs 80
  exit 1
fi
echo "== cloud up in $((SECONDS - start))s"

export AZMOVE_REAL_CLOUD=$MC/clouds.yaml   # set: an unreachable cloud fails instead of skipping
echo "== real-cloud tests"
cargo test --locked --test real_cloud --test conformance -- --nocapture --test-threads 2
rc=$?

echo "== harness log tail"
"$CLOUD" logs 30
[ $rc = 0 ] && echo "real-cloud tests passed" || echo "real-cloud tests FAILED"
exit $rc

#!/usr/bin/env bash
# CI job for the tests against a real OpenStack: build the test binary,
# bring the harness cloud up (with a time limit; on a fresh clone that is a
# full install into <repo>/target/minicloud), run the `real_cloud` module of
# tests/it (the real `azmove` binary end to end, and conformance), print
# the harness log tail, and always stop the cloud at the end.
# Fails if the cloud does not come up (printing the harness's log tail) or a
# test fails; the tests cannot skip here (AZMOVE_REAL_CLOUD_REQUIRED=1).
#
# usage: tests/cloud/ci.sh
# env:   AZMOVE_CLOUD_UP_TIMEOUT  seconds allowed for `cloud up` (default 1200: a fresh
#                                 machine needs ~6 min incl. apt and pip, a slow one more)
#        AZMOVE_CLOUD_DIR         harness state dir (default <repo>/target/minicloud)
#        AZMOVE_CLOUD_KEEP=1      leave the cloud running at the end (local debugging)
set -uo pipefail
cd "$(dirname "$0")/../.."
CLOUD=tests/cloud/cloud
MC=${AZMOVE_CLOUD_DIR:-$PWD/target/minicloud}
LIMIT=${AZMOVE_CLOUD_UP_TIMEOUT:-1200}
# The integration-test binary, filtered to tests/it/real_cloud/ (the rest of it ran in `cargo test`).
TESTS=(--test it real_cloud::)
T0=$SECONDS

# Compile first: a build error should not cost a cloud start, and the build
# must not compete with the cloud for the CPU while the tests run.
echo "== building the real-cloud tests"
if ! cargo test --locked "${TESTS[@]}" --no-run; then
  echo "real-cloud tests FAILED to build"
  exit 1
fi

started=
finish() {
  local rc=$?
  if [ -n "$started" ]; then
    if [ -n "${AZMOVE_CLOUD_KEEP:-}" ]; then
      echo "== AZMOVE_CLOUD_KEEP is set: the cloud keeps running ($MC/clouds.yaml)"
    else
      echo "== stopping the cloud"
      "$CLOUD" down || rc=1
    fi
  fi
  echo "== real-cloud job took $((SECONDS - T0))s"
  exit $rc
}
trap finish EXIT

echo "== bringing the real cloud up (limit ${LIMIT}s)"
started=1
start=$SECONDS
if ! timeout --kill-after=30 "$LIMIT" "$CLOUD" up; then
  echo "== the cloud did not come up within ${LIMIT}s (or failed); harness log:"
  "$CLOUD" logs 80
  exit 1
fi
echo "== cloud up in $((SECONDS - start))s"

# Either variable alone makes a missing or unreachable cloud a failure
# instead of a skip; both are set so that neither can be lost on the way.
export AZMOVE_REAL_CLOUD=$MC/clouds.yaml AZMOVE_REAL_CLOUD_REQUIRED=1
echo "== real-cloud tests"
start=$SECONDS
cargo test --locked "${TESTS[@]}" -- --include-ignored --nocapture --test-threads 2
rc=$?
echo "== real-cloud tests took $((SECONDS - start))s"

echo "== harness log tail"
"$CLOUD" logs 30
[ $rc = 0 ] && echo "real-cloud tests passed" || echo "real-cloud tests FAILED"
exit $rc

#!/usr/bin/env bash
# Every test layer, as CI runs it (README's test command):
#  1. `cargo test --locked`: unit, CLI, API samples, client over HTTP and the
#     simulator, the integration tests all in one binary (tests/it/); the
#     real-cloud tests (tests/it/real_cloud/) are #[ignore]d here and listed
#     as ignored;
#  2. `tests/cloud/ci.sh`: brings a real OpenStack control plane up from
#     packages on loopback (installing it into target/minicloud the first
#     time), runs the end-to-end and conformance suites (tests/it/real_cloud/)
#     against it, stops it.
#     A cloud that does not come up fails the run with the harness's log tail.
# For the fast layers alone, run `cargo test --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test --locked"
cargo test --locked

echo "== real OpenStack end to end (tests/cloud/ci.sh)"
bash tests/cloud/ci.sh

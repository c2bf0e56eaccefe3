#!/usr/bin/env bash
# Fidelity check: drive the simulator with the real `openstack` CLI
# (python-openstackclient, a client nobody here wrote) through the classic
# AZ move of plans/seed-cloud.yaml: stop, snapshot, boot the snapshot in
# nova2, check the host, delete. Any failing command or unexpected output
# fails the script.
#
# Environment:
#   AZMOVE_FIDELITY_VENV  virtualenv to use/create (default target/fidelity/venv)
#   PYTHON                interpreter for the venv (default python3)
set -euo pipefail
cd "$(dirname "$0")/../.."

OSC_VERSION=10.5.0
VENV=${AZMOVE_FIDELITY_VENV:-target/fidelity/venv}
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
SIM_PID=""

cleanup() {
    if [ -n "$SIM_PID" ] && kill -0 "$SIM_PID" 2>/dev/null; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FIDELITY FAILURE: $*" >&2
    echo "--- simulator output" >&2
    cat "$WORK/sim.log" >&2 || true
    exit 1
}

echo "== python-openstackclient $OSC_VERSION in $VENV"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('python-openstackclient') != '$OSC_VERSION')" 2>/dev/null; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "python-openstackclient==$OSC_VERSION"
fi
OPENSTACK="$VENV/bin/openstack"

echo "== building azmove"
cargo build --quiet --bin azmove
AZMOVE=${CARGO_TARGET_DIR:-target}/debug/azmove

PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== starting the simulator on port $PORT"
"$AZMOVE" sim serve --scenario plans/seed-cloud.yaml --port "$PORT" >"$WORK/sim.out" 2>"$WORK/sim.log" &
SIM_PID=$!
for _ in $(seq 1 100); do
    grep -q '^export OS_AUTH_URL=' "$WORK/sim.out" 2>/dev/null && break
    kill -0 "$SIM_PID" 2>/dev/null || fail "the simulator exited early"
    sleep 0.1
done
grep -q '^export OS_AUTH_URL=' "$WORK/sim.out" || fail "the simulator printed no OS_* variables"
# Use exactly what the simulator tells users to use.
eval "$(grep '^export ' "$WORK/sim.out")"

os() {
    echo "+ openstack $*" >&2
    "$OPENSTACK" "$@"
}

wait_for() { # wait_for SERVER STATUS
    for _ in $(seq 1 120); do
        status=$(os server show -f value -c status "$1")
        [ "$status" = "$2" ] && return 0
        [ "$status" = "ERROR" ] && fail "server $1 went to ERROR"
        sleep 1
    done
    fail "server $1 did not reach $2 (last status $status)"
}

echo "== availability zone list"
zones=$(os availability zone list -f value -c "Zone Name")
echo "$zones"
grep -qx nova <<<"$zones" || fail "AZ nova missing"
grep -qx nova2 <<<"$zones" || fail "AZ nova2 missing"

echo "== server list --long"
list=$(os server list --long -f value -c Name -c Status -c "Availability Zone" -c Host)
echo "$list"
grep -q '^admin_vm01 ACTIVE nova node-27$' <<<"$list" || fail "admin_vm01 is not ACTIVE on node-27 in nova"

echo "== server show admin_vm01"
os server show admin_vm01 -f shell -c status -c OS-EXT-AZ:availability_zone -c flavor -c image >"$WORK/show"
cat "$WORK/show"
grep -q '^status="ACTIVE"$' "$WORK/show" || fail "server show: status"
grep -q '^os_ext_az_availability_zone="nova"$' "$WORK/show" || fail "server show: AZ"

echo "== server stop admin_vm01"
os server stop admin_vm01
wait_for admin_vm01 SHUTOFF

echo "== server image create --wait --name snap admin_vm01"
os server image create --wait --name snap admin_vm01 -f value -c status -c name

echo "== image show snap"
image_status=$(os image show snap -f value -c status)
[ "$image_status" = active ] || fail "image snap is $image_status, not active"
os image show snap -f json -c properties \
    | "$PYTHON" -c 'import json, sys; sys.exit(json.load(sys.stdin)["properties"].get("image_type") != "snapshot")' \
    || fail "snap is not marked as a snapshot"

echo "== server create ... --availability-zone nova2 --wait moved"
os server create --flavor m1.tiny --image snap --availability-zone nova2 --network net1 --wait moved -f value -c status
host=$(os server show -f value -c OS-EXT-SRV-ATTR:hypervisor_hostname moved)
az=$(os server show -f value -c OS-EXT-AZ:availability_zone moved)
echo "moved is on $host in $az"
[ "$host" = node-31 ] || fail "moved landed on $host, not node-31"
[ "$az" = nova2 ] || fail "moved is in $az, not nova2"

echo "== server delete --wait moved"
os server delete --wait moved
if os server list -f value -c Name | grep -qx moved; then
    fail "moved still listed after delete"
fi

echo "== fidelity check passed"

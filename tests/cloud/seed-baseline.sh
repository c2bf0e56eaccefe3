#!/usr/bin/env bash
# The baseline azmove is measured against: move N servers from AZ nova to nova2
# the classic way, one after the other, with the `openstack` CLI — note the
# server's settings, stop it, `server image create --wait`, `server create
# --availability-zone nova2 --wait` from the snapshot, delete the original.
#
# usage: tests/cloud/seed-baseline.sh [N]     (default 3; cloud from tests/cloud/cloud up)
# env:   AZMOVE_CLOUD_DIR (harness state dir), BASELINE_CLOUD=member|admin (default member),
#        BASELINE_KEEP=1 keeps the moved servers and snapshots.
# Prints per-server step times and, last, the total in seconds: "baseline N=3 total_s=..."
# Only the moves are timed; creating the N source servers and the clean-up are not.
set -euo pipefail

N=${1:-3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MC=${AZMOVE_CLOUD_DIR:-$(cd "$HERE/../.." && pwd)/target/minicloud}
CLOUD=${BASELINE_CLOUD:-member}
[ -f "$MC/clouds.yaml" ] || { echo "no cloud in $MC (start it with tests/cloud/cloud up)" >&2; exit 1; }
export OS_CLIENT_CONFIG_FILE=$MC/clouds.yaml OS_CLOUD=$CLOUD PATH=$MC/venv/bin:$PATH
PY=$MC/venv/bin/python
TAG=baseline-$(date +%s)-$$

now() { date +%s.%N; }
secs() { "$PY" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
field() { "$PY" -c "import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# --- setup (not timed): N ACTIVE servers in AZ nova, booted in one SDK session
"$PY" "$HERE/baseline-setup.py" "$TAG" "$N"

cleanup() {
  [ -n "${BASELINE_KEEP:-}" ] && return 0
  "$PY" - "$TAG" <<'EOF' || true
import sys, openstack
tag = sys.argv[1]
c = openstack.connect()
for s in list(c.compute.servers(name='^%s-' % tag)):
    c.compute.delete_server(s)
    c.compute.wait_for_delete(s, interval=1, wait=300)
for i in list(c.image.images()):
    if i.name.startswith(tag + '-'):
        c.image.delete_image(i)
print('cleanup done')
EOF
}
trap cleanup EXIT

# --- the timed part: the seed's procedure, sequential, CLI only
T0=$(now)
for i in $(seq 0 $((N - 1))); do
  s=$TAG-$i
  t=$(now)
  # 1. note what the new server needs
  show=$(openstack server show -f json "$s")
  flavor=$(field "v['flavor'].get('original_name') or v['flavor']['name']" <<< "$show")
  key=$(field "v['key_name']" <<< "$show")
  az=$(field "v['OS-EXT-AZ:availability_zone']" <<< "$show")
  [ "$az" = nova ] || { echo "$s is in AZ $az, not nova" >&2; exit 1; }
  # 2. stop it (the CLI has no --wait for stop: poll like an operator's script)
  openstack server stop "$s"
  until [ "$(openstack server show -f value -c status "$s")" = SHUTOFF ]; do sleep 1; done
  t_stop=$(now)
  # 3. snapshot
  openstack server image create --name "$s-snap" --wait "$s" > /dev/null
  t_snap=$(now)
  # 4. boot the snapshot in nova2
  openstack server create --flavor "$flavor" --image "$s-snap" --availability-zone nova2 \
    --network net1 --security-group default --key-name "$key" --property role=baseline \
    --wait "$s-moved" > /dev/null
  new_az=$(openstack server show -f value -c OS-EXT-AZ:availability_zone "$s-moved")
  [ "$new_az" = nova2 ] || { echo "$s-moved is in AZ $new_az, not nova2" >&2; exit 1; }
  t_boot=$(now)
  # 5. delete the original
  openstack server delete --wait "$s"
  t_del=$(now)
  echo "$s: note+stop $(secs "$t" "$t_stop")s  snapshot $(secs "$t_stop" "$t_snap")s" \
       " boot in nova2 $(secs "$t_snap" "$t_boot")s  delete $(secs "$t_boot" "$t_del")s"
done
echo "baseline N=$N total_s=$(secs "$T0" "$(now)")"

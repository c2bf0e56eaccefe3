#!/usr/bin/env bash
# The counterpart of seed-baseline.sh: the same N servers (AZ nova, net1,
# security group default, key pair, metadata) moved to nova2 by
# `azmove apply` with tests/cloud/plans/baseline.yaml — stop, snapshot, boot
# in nova2, verify, delete the original, 4 servers at a time.
#
# usage: tests/cloud/azmove-baseline.sh [N]   (default 3; cloud from tests/cloud/cloud up)
# env:   AZMOVE_CLOUD_DIR (harness state dir), BASELINE_CLOUD=member|admin (default member),
#        AZMOVE_BIN (default: target/debug/azmove, built with `cargo build --locked` if missing),
#        BASELINE_KEEP=1 keeps the moved servers.
# Prints azmove's summary and, last, the total in seconds: "azmove N=3 total_s=..."
# Only `azmove apply` is timed (it plans first, so planning is included);
# creating the N source servers and the clean-up are not.
set -euo pipefail

N=${1:-3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MC=${AZMOVE_CLOUD_DIR:-$REPO/target/minicloud}
CLOUD=${BASELINE_CLOUD:-member}
[ -f "$MC/clouds.yaml" ] || { echo "no cloud in $MC (start it with tests/cloud/cloud up)" >&2; exit 1; }
BIN=${AZMOVE_BIN:-$REPO/target/debug/azmove}
if [ -z "${AZMOVE_BIN:-}" ] && [ ! -x "$BIN" ]; then
  (cd "$REPO" && cargo build --locked --bin azmove)
fi
export OS_CLIENT_CONFIG_FILE=$MC/clouds.yaml OS_CLOUD=$CLOUD
PY=$MC/venv/bin/python
TAG=azbase-$(date +%s)-$$
WORK=$(mktemp -d)

now() { date +%s.%N; }
secs() { "$PY" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

# --- setup (not timed): N ACTIVE servers in AZ nova, as in seed-baseline.sh
"$PY" "$HERE/baseline-setup.py" "$TAG" "$N"

cleanup() {
  rm -rf "$WORK"
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

sed "s/@TAG@/$TAG/g" "$HERE/plans/baseline.yaml" > "$WORK/plan.yaml"

# --- the timed part: one azmove apply
T0=$(now)
rc=0
"$BIN" --color never apply "$WORK/plan.yaml" --os-cloud "$CLOUD" --yes \
  --journal-dir "$WORK/journal" --report "$WORK/report.json" > "$WORK/out.txt" 2> "$WORK/err.txt" || rc=$?
T1=$(now)
sed -n '/^Apply complete/,$p' "$WORK/out.txt" | grep -v '^Journal:'
if [ "$rc" != 0 ]; then
  echo "azmove apply exited $rc:" >&2
  cat "$WORK/out.txt" "$WORK/err.txt" >&2
  exit 1
fi

# --- check (not timed): N replacements ACTIVE in nova2, no original left
"$PY" - "$TAG" "$N" <<'EOF'
import sys, openstack
tag, n = sys.argv[1], int(sys.argv[2])
c = openstack.connect()
servers = list(c.compute.servers(name='^%s-' % tag))
moved = [s for s in servers if s.metadata.get('azmove_source')]
assert len(servers) == n and len(moved) == n, [(s.name, s.status) for s in servers]
assert all(s.status == 'ACTIVE' and s.availability_zone == 'nova2' for s in moved)
print('check: %d servers ACTIVE in AZ nova2, originals deleted' % n)
EOF
echo "azmove N=$N total_s=$(secs "$T0" "$T1")"

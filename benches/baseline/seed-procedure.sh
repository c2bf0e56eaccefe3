#!/usr/bin/env bash
# The classic manual AZ move, scripted with the `openstack` CLI, one server
# after another: what moving servers costs without azmove. azmove-bench runs
# it against the simulator as the baseline of docs/benchmarks.md; it works
# against any cloud the `openstack` CLI can reach.
#
# usage: seed-procedure.sh [--source-after keep|stop|delete] SERVER:TARGET_AZ...
#
# Per server, as the procedure azmove automates describes it:
#   1. note its flavor, networks, security groups, key and properties (`server show`);
#   2. `server stop`, then wait for SHUTOFF (the CLI has no --wait for stop);
#   3. `server image create --wait`;
#   4. `server create --image <snapshot> --availability-zone <target> --wait`
#      with the same name and settings, and check the AZ it landed in;
#   5. the original: keep it (stopped), or `server delete --wait` it
#      (--source-after delete); `stop` is already done by step 2.
#
# Environment: OS_* variables or OS_CLOUD select the cloud, as for any
# openstack command. OPENSTACK: the openstack executable (default: the one on
# PATH). PYTHON: a python3 to read the CLI's JSON output (default: python3).
#
# Prints one line of step times per server and, last,
# "seed-procedure: N servers in T s".
set -euo pipefail

usage() {
    echo "usage: $0 [--source-after keep|stop|delete] SERVER:TARGET_AZ..." >&2
    exit 2
}

SOURCE_AFTER=keep
if [ "${1:-}" = --source-after ]; then
    [ $# -ge 2 ] || usage
    SOURCE_AFTER=$2
    shift 2
fi
case $SOURCE_AFTER in keep | stop | delete) ;; *) usage ;; esac
[ $# -gt 0 ] || usage
OPENSTACK=${OPENSTACK:-openstack}
PYTHON=${PYTHON:-python3}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# field NAME < server-show-json: one value per line, whatever shape this
# version of the CLI gives the field.
field() {
    "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
f = sys.argv[1]
if f == "flavor":
    x = v["flavor"]
    print(x.get("original_name") or x.get("name") if isinstance(x, dict) else str(x).split(" (")[0])
elif f == "networks":
    x = v.get("addresses") or {}
    names = x.keys() if isinstance(x, dict) else [p.split("=")[0].strip() for p in str(x).split(";") if "=" in p]
    print("\n".join(names))
elif f == "security_groups":
    x = v.get("security_groups") or []
    print("\n".join(g["name"] if isinstance(g, dict) else str(g) for g in x))
elif f == "properties":
    x = v.get("properties") or {}
    print("\n".join("%s=%s" % kv for kv in x.items()) if isinstance(x, dict) else "")
else:
    x = v.get(f)
    print("" if x is None else x)
' "$1"
}

T0=$(now)
n=0
for pair in "$@"; do
    name=${pair%:*}
    target=${pair##*:}
    [ -n "$name" ] && [ -n "$target" ] && [ "$name" != "$pair" ] || usage
    t=$(now)

    # 1. note what the new server needs
    show=$("$OPENSTACK" server show -f json "$name")
    id=$(field id <<<"$show")
    flavor=$(field flavor <<<"$show")
    key=$(field key_name <<<"$show")
    create_args=(--flavor "$flavor" --availability-zone "$target")
    while read -r net; do [ -n "$net" ] && create_args+=(--network "$net"); done < <(field networks <<<"$show")
    # Nova applies the project's `default` group when none is named; naming
    # it is ambiguous for an admin, who sees every project's `default`.
    while read -r sg; do
        [ -n "$sg" ] && [ "$sg" != default ] && create_args+=(--security-group "$sg")
    done < <(field security_groups <<<"$show")
    while read -r prop; do [ -n "$prop" ] && create_args+=(--property "$prop"); done < <(field properties <<<"$show")
    [ -n "$key" ] && create_args+=(--key-name "$key")

    # 2. stop it, so the snapshot is consistent
    if [ "$(field status <<<"$show")" != SHUTOFF ]; then
        "$OPENSTACK" server stop "$id"
        until [ "$("$OPENSTACK" server show -f value -c status "$id")" = SHUTOFF ]; do sleep 1; done
    fi
    t_stop=$(now)

    # 3. snapshot (--wait prints its progress on stdout too: the id is the last line)
    image=$("$OPENSTACK" server image create --name "$name-snapshot" --wait -f value -c id "$id" | tail -n 1)
    t_snap=$(now)

    # 4. boot the snapshot in the target AZ and check where it landed
    new=$("$OPENSTACK" server create "${create_args[@]}" --image "$image" --wait -f value -c id "$name" | tail -n 1)
    az=$("$OPENSTACK" server show -f value -c OS-EXT-AZ:availability_zone "$new")
    if [ "$az" != "$target" ]; then
        echo "seed-procedure: $name: the new server $new is in AZ $az, not $target; the original $id is untouched" >&2
        exit 1
    fi
    t_boot=$(now)

    # 5. the original
    if [ "$SOURCE_AFTER" = delete ]; then
        "$OPENSTACK" server delete --wait "$id"
    fi
    t_done=$(now)
    n=$((n + 1))
    echo "$name -> $target: note+stop $(secs "$t" "$t_stop") s, snapshot $(secs "$t_stop" "$t_snap") s," \
        "boot $(secs "$t_snap" "$t_boot") s, source $SOURCE_AFTER $(secs "$t_boot" "$t_done") s"
done
echo "seed-procedure: $n servers in $(secs "$T0" "$(now)") s"

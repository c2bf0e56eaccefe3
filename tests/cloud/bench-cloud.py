"""The cloud side of `azmove-bench real-cloud` (src/bench/real_cloud/): boot
the servers a run moves, read Nova's instance actions afterwards, and delete
everything a run made. Run with the harness venv's python, with
OS_CLIENT_CONFIG_FILE and OS_CLOUD set; every command prints one JSON value.

usage: bench-cloud.py boot TAG N       N servers TAG-0 .. TAG-(N-1) in AZ nova
                                        (m1.tiny, cirros, net1, security group
                                        default, key pair azmove-key), ACTIVE;
                                        prints their ids
       bench-cloud.py actions ID...    each server's instance actions with
                                        their events (microversion 2.84, which
                                        also answers for deleted servers)
       bench-cloud.py cleanup TAG      deletes the servers named TAG-* and the
                                        images whose name contains TAG
"""
import json
import sys

import openstack

MICROVERSION = '2.84'


def boot(c, tag, n):
    img, flv, net = c.image.find_image('cirros'), c.compute.find_flavor('m1.tiny'), c.network.find_network('net1')
    ids = [c.compute.create_server(name='%s-%d' % (tag, i), image_id=img.id, flavor_id=flv.id,
                                   availability_zone='nova', networks=[{'uuid': net.id}],
                                   security_groups=[{'name': 'default'}], key_name='azmove-key',
                                   metadata={'role': 'bench'}).id for i in range(n)]
    for i in ids:
        c.compute.wait_for_server(c.compute.get_server(i), status='ACTIVE', interval=1, wait=600)
    return ids


def actions(c, ids):
    out = {}
    for sid in ids:
        listed = c.compute.get('/servers/%s/os-instance-actions' % sid, microversion=MICROVERSION)
        listed.raise_for_status()
        full = []
        for a in listed.json()['instanceActions']:
            one = c.compute.get('/servers/%s/os-instance-actions/%s' % (sid, a['request_id']),
                                microversion=MICROVERSION)
            one.raise_for_status()
            full.append(one.json()['instanceAction'])
        out[sid] = full
    return out


def cleanup(c, tag):
    servers = [s for s in c.compute.servers() if s.name.startswith(tag + '-')]
    for s in servers:
        c.compute.delete_server(s)
    for s in servers:
        c.compute.wait_for_delete(s, interval=1, wait=600)
    images = [i for i in c.image.images() if tag in (i.name or '')]
    for i in images:
        c.image.delete_image(i)
    return {'servers_deleted': len(servers), 'images_deleted': len(images)}


def main(argv):
    c = openstack.connect()
    if argv[0] == 'boot':
        result = boot(c, argv[1], int(argv[2]))
    elif argv[0] == 'actions':
        result = actions(c, argv[1:])
    elif argv[0] == 'cleanup':
        result = cleanup(c, argv[1])
    else:
        sys.exit(__doc__)
    json.dump(result, sys.stdout)
    print()


if __name__ == '__main__':
    main(sys.argv[1:])

"""Setup shared by seed-baseline.sh and azmove-baseline.sh (not timed):
boot N servers named TAG-0 .. TAG-(N-1) in AZ nova (m1.tiny, cirros, a port
on net1, security group default, key pair azmove-key, metadata) in one SDK
session and wait until all are ACTIVE.

usage: baseline-setup.py TAG N   (with OS_CLIENT_CONFIG_FILE and OS_CLOUD set)
"""
import sys

import openstack

tag, n = sys.argv[1], int(sys.argv[2])
c = openstack.connect()
img, flv, net = c.image.find_image('cirros'), c.compute.find_flavor('m1.tiny'), c.network.find_network('net1')
ids = [c.compute.create_server(name='%s-%d' % (tag, i), image_id=img.id, flavor_id=flv.id,
                               availability_zone='nova', networks=[{'uuid': net.id}],
                               security_groups=[{'name': 'default'}], key_name='azmove-key',
                               metadata={'role': 'baseline'}).id for i in range(n)]
for i in ids:
    c.compute.wait_for_server(c.compute.get_server(i), status='ACTIVE', interval=1, wait=300)
print('setup: %d servers ACTIVE in AZ nova' % n)

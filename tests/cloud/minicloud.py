"""Cloud-side steps of the minicloud harness, run with the harness venv's python.

usage: python minicloud.py STATE_DIR catalog|wait-computes|day1|health [--quiet]

Every step talks to the running services through openstacksdk with the
credentials in STATE_DIR/clouds.yaml, and is idempotent (find-or-create), so a
harness run interrupted half way can simply be repeated. One python process per
step: creating the same objects with the `openstack` CLI costs ~3.5 s per call.
"""
import os
import sys
import time

STATE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
os.environ['OS_CLIENT_CONFIG_FILE'] = os.path.join(STATE or '.', 'clouds.yaml')

import openstack  # noqa: E402  (needs OS_CLIENT_CONFIG_FILE first)
from openstack import exceptions as osexc  # noqa: E402

PASSWORD = 'secret'
SERVICE_USERS = ('glance', 'placement', 'nova', 'neutron', 'cinder')
ENDPOINTS = [('keystone', 'identity', 'http://127.0.0.1:5000/v3'),
             ('glance', 'image', 'http://127.0.0.1:9292'),
             ('placement', 'placement', 'http://127.0.0.1:8778'),
             ('nova', 'compute', 'http://127.0.0.1:8774/v2.1'),
             ('neutron', 'network', 'http://127.0.0.1:9696'),
             ('cinderv3', 'volumev3', 'http://127.0.0.1:8776/v3'),
             ('cinder', 'block-storage', 'http://127.0.0.1:8776/v3')]
APIS = [('keystone', 5000), ('glance', 9292), ('placement', 8778),
        ('nova', 8774), ('neutron', 9696), ('cinder', 8776)]
AZS = {'nova': ['node-27', 'node-28'], 'nova2': ['node-31']}
FLAVORS = [('1', 'm1.tiny', 1, 512, 1), ('2', 'm1.small', 2, 2048, 20)]
IMAGE = 'cirros'
NETWORK, SUBNET, CIDR = 'net1', 'sub1', '10.0.0.0/24'
KEYPAIR = 'azmove-key'
# generous quotas: a 12-server fleet moved by snapshot briefly holds 2 servers,
# 2 ports and one image per server, several fleets may run in one test session
COMPUTE_QUOTA = dict(instances=200, cores=400, ram=409600, key_pairs=100,
                     server_groups=50, server_group_members=50)
NETWORK_QUOTA = dict(ports=500, networks=50, subnets=50, security_groups=50,
                     security_group_rules=500)
VOLUME_QUOTA = dict(volumes=100, snapshots=100, gigabytes=5000)


def connect(cloud='admin'):
    return openstack.connect(cloud=cloud)


def log(*a):
    print(*a, flush=True)


def catalog():
    """Service project and users, catalog, and the non-admin `demo` member."""
    c = connect()
    idn = c.identity
    roles = {r.name: r for r in idn.roles()}
    for r in ('admin', 'service', 'member', 'reader'):
        if r not in roles:
            roles[r] = idn.create_role(name=r)

    def project(name, desc):
        p = idn.find_project(name, domain_id='default')
        return p or idn.create_project(name=name, domain_id='default', description=desc)

    def user(name, proj):
        u = idn.find_user(name, domain_id='default')
        return u or idn.create_user(name=name, password=PASSWORD, domain_id='default',
                                    default_project_id=proj.id)

    svc = project('service', 'OpenStack service users')
    for name in SERVICE_USERS:
        u = user(name, svc)
        for r in ('admin', 'service'):
            idn.assign_project_role_to_user(svc, u, roles[r])
    demo = project('demo', 'non-admin project used by the azmove tests')
    du = user('demo', demo)
    idn.assign_project_role_to_user(demo, du, roles['member'])

    have = {s.type: s for s in idn.services()}
    for name, typ, url in ENDPOINTS:
        s = have.get(typ) or idn.create_service(name=name, type=typ)
        existing = {e.interface for e in idn.endpoints(service_id=s.id)}
        for i in ('public', 'internal', 'admin'):
            if i not in existing:
                idn.create_endpoint(service_id=s.id, interface=i, url=url,
                                    region_id='RegionOne')
    log('catalog: %d services; users %s + demo (member of demo)'
        % (len(ENDPOINTS), ', '.join(SERVICE_USERS)))


def wait_computes(timeout=240):
    """Wait until all three fake computes have registered as hypervisors."""
    c = connect()
    want = {h for hosts in AZS.values() for h in hosts}
    seen = set()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            seen = {h.name for h in c.compute.hypervisors()}
        except osexc.SDKException:
            seen = set()
        if want <= seen:
            log('hypervisors:', ', '.join(sorted(seen)))
            return
        time.sleep(1)
    sys.exit('timeout: hypervisors %s registered, want %s' % (sorted(seen), sorted(want)))


def ssh_keypair():
    """An ed25519 key pair under STATE/keys (nova >= 2.92 no longer generates keys)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    d = os.path.join(STATE, 'keys')
    os.makedirs(d, exist_ok=True)
    priv, pub = os.path.join(d, KEYPAIR), os.path.join(d, KEYPAIR + '.pub')
    if not os.path.exists(pub):
        k = ed25519.Ed25519PrivateKey.generate()
        with open(os.open(priv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as f:
            f.write(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.OpenSSH,
                                    serialization.NoEncryption()))
        with open(pub, 'wb') as f:
            f.write(k.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH)
                    + b' azmove-minicloud\n')
    with open(pub) as f:
        return f.read().strip()


def day1():
    """The world the tests start from (see tests/cloud/README.md)."""
    c = connect()
    aggs = {a.name: a for a in c.compute.aggregates()}
    for az, hosts in AZS.items():
        name = 'agg-' + az
        a = aggs.get(name) or c.compute.create_aggregate(name=name, availability_zone=az)
        a = c.compute.get_aggregate(a.id)
        for h in hosts:
            if h not in (a.hosts or []):
                c.compute.add_host_to_aggregate(a, h)
    for fid, name, vcpus, ram, disk in FLAVORS:
        if not c.compute.find_flavor(name):
            c.compute.create_flavor(id=fid, name=name, vcpus=vcpus, ram=ram, disk=disk)
    img = c.image.find_image(IMAGE)
    if not img:
        img = c.image.create_image(name=IMAGE, data=b'\0' * 4096, disk_format='raw',
                                   container_format='bare', visibility='public',
                                   os_distro='cirros', wait=True)
    net = c.network.find_network(NETWORK)
    if not net:
        net = c.network.create_network(name=NETWORK, shared=True)
    if not c.network.find_subnet(SUBNET):
        c.network.create_subnet(network_id=net.id, name=SUBNET, ip_version=4, cidr=CIDR)

    pub = ssh_keypair()
    for cloud in ('admin', 'member'):
        cc = connect(cloud)
        # neutron creates a project's `default` security group on first use
        if not list(cc.network.security_groups(name='default',
                                               project_id=cc.current_project_id)):
            sys.exit('no default security group for cloud %s' % cloud)
        if not cc.compute.find_keypair(KEYPAIR):
            cc.compute.create_keypair(name=KEYPAIR, public_key=pub)
        pid = cc.current_project_id
        c.set_compute_quotas(pid, **COMPUTE_QUOTA)
        c.set_network_quotas(pid, **NETWORK_QUOTA)
        c.set_volume_quotas(pid, **VOLUME_QUOTA)
    log('day-1: AZs %s, flavors %s, image %s, network %s/%s, keypair %s, quotas'
        % (', '.join('%s=%s' % (z, '+'.join(h)) for z, h in AZS.items()),
           ', '.join(f[1] for f in FLAVORS), IMAGE, NETWORK, SUBNET, KEYPAIR))


def health(quiet=False):
    """Exit 0 only if every API answers, tokens work, the computes are up and the AZs right."""
    import requests
    problems, lines = [], []

    def check(what, ok, detail=''):
        lines.append('%-4s %-44s %s' % ('ok' if ok else 'FAIL', what, detail))
        if not ok:
            problems.append(what)

    for name, port in APIS:
        try:
            r = requests.get('http://127.0.0.1:%d/' % port, timeout=5)
            check('%s API :%d answers' % (name, port), r.status_code < 500,
                  'HTTP %d' % r.status_code)
        except requests.RequestException as e:
            check('%s API :%d answers' % (name, port), False, type(e).__name__)
    if problems:
        return report(lines, problems, quiet)
    try:
        c = connect('admin')
        c.authorize()
        check('token as admin', True)
        m = connect('member')
        m.authorize()
        check('token as member (demo)', True)
        v = c.compute.get('/', microversion=None).json().get('version', {})
        check('nova microversions', v.get('version') == '2.104',
              '%s - %s' % (v.get('min_version'), v.get('version')))
        svcs = list(c.compute.services())
        for binary, want in (('nova-conductor', 1), ('nova-scheduler', 1),
                             ('nova-compute', 3)):
            up = sorted(s.host for s in svcs
                        if s.binary == binary and s.state == 'up' and s.status == 'enabled')
            check('%d x %s up' % (want, binary), len(up) >= want, ', '.join(up))
        vol = list(c.block_storage.services())
        up = sorted(s.binary for s in vol if s.state == 'up')
        check('cinder-scheduler + cinder-volume up',
              {'cinder-scheduler', 'cinder-volume'} <= set(up), ', '.join(up))
        zones = c.compute.get('/os-availability-zone/detail').json()['availabilityZoneInfo']
        got = {}
        for z in zones:
            hosts = sorted(h for h, s in (z.get('hosts') or {}).items()
                           if 'nova-compute' in s)
            if hosts:
                got[z['zoneName']] = hosts
        check('AZs nova=node-27+node-28, nova2=node-31', got == AZS, str(got))
        check('flavor m1.tiny', c.compute.find_flavor('m1.tiny') is not None)
        img = c.image.find_image(IMAGE)
        check('image %s active' % IMAGE, img is not None and img.status == 'active')
        check('network %s' % NETWORK, c.network.find_network(NETWORK) is not None)
    except Exception as e:  # any failure above means "not healthy"
        check('API calls', False, '%s: %s' % (type(e).__name__, str(e)[:200]))
    return report(lines, problems, quiet)


def report(lines, problems, quiet):
    if problems or not quiet:
        print('\n'.join(lines))
    if problems:
        print('unhealthy: %s' % '; '.join(problems))
        return 1
    if not quiet:
        print('healthy')
    return 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    step = sys.argv[2]
    if step == 'catalog':
        catalog()
    elif step == 'wait-computes':
        wait_computes()
    elif step == 'day1':
        day1()
    elif step == 'health':
        sys.exit(health(quiet='--quiet' in sys.argv))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()

import { describe, expect, test } from 'vitest';
import { admitLeases, checkLease, type AdmissionContext, type RejectionReason } from '../src/admission.js';
import type { Lease, LeaseAttrs } from '../src/lease.js';
import { parseNetworkConfig } from '../src/network-config.js';
import { parseSubnetKey } from '../src/subnet-key.js';

function lease(key: string, attrs: Partial<LeaseAttrs> = {}, createRevision?: bigint): Lease {
  const parsed = parseSubnetKey(key);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { key, ...parsed.value, attrs: { publicIP: '192.0.2.2', ...attrs }, expiresAt: null, createRevision };
}

const vxlan = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}');
const udp = parseNetworkConfig('{"Network":"10.1.0.0/16"}');
const hostGw = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}}');
const dual = parseNetworkConfig('{"Network":"10.1.0.0/16","EnableIPv6":true,"IPv6Network":"fc00:0:0:100::/56","Backend":{"Type":"host-gw"}}');
const v6only = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00:0:0:100::/56","Backend":{"Type":"vxlan"}}');

const own = lease('10.1.1.0-24', { publicIP: '192.0.2.1' });
const onHost = (config = vxlan): AdmissionContext => ({ config, own, ownPublicIPs: ['192.0.2.1'] });
const vx = (mac: unknown = '02:42:ac:11:00:02') => ({ backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } });

const reasonOf = (l: Lease, context: AdmissionContext) => checkLease(l, context)?.reason;

describe('checkLease: every reason and its boundaries', () => {
  const cases: Array<[string, Lease, AdmissionContext, RejectionReason | undefined]> = [
    ['a well-formed vxlan peer', lease('10.1.2.0-24', vx()), onHost(), undefined],
    ['the last /24 of the network', lease('10.1.255.0-24', vx()), onHost(), undefined],
    ['the first /24 (below SubnetMin, still inside Network)', lease('10.1.0.0-24', vx()), onHost(), undefined],
    // non-canonical-key
    ['host bits set (an alias of 10.1.2.0/24)', lease('10.1.2.9-24', vx()), onHost(), 'non-canonical-key'],
    ['1.2.3.4-0 (flannel installs a default route for it)', lease('1.2.3.4-0', vx()), onHost(), 'non-canonical-key'],
    ['host bit in the IPv6 part', lease('10.1.2.0-24&fc00:0:0:102::1-64', { publicIPv6: '2001:db8::2' }), { config: dual }, 'non-canonical-key'],
    // wrong-prefix-length
    ['a /23 in a /24 network', lease('10.1.2.0-23', vx()), onHost(), 'wrong-prefix-length'],
    ['a /25 inside the own subnet', lease('10.1.1.128-25', vx()), onHost(), 'wrong-prefix-length'],
    ['the whole network 10.1.0.0/16', lease('10.1.0.0-16', vx()), onHost(), 'wrong-prefix-length'],
    ['a /32', lease('10.1.2.1-32', vx()), onHost(), 'wrong-prefix-length'],
    ['an IPv6 /80 where IPv6SubnetLen is 64', lease('10.1.2.0-24&fc00:0:0:102::-80', { publicIPv6: '2001:db8::2', backendType: 'host-gw' }), { config: dual }, 'wrong-prefix-length'],
    // outside-network
    ['172.16.0.0/24 (a private range outside Network)', lease('172.16.0.0-24', vx()), onHost(), 'outside-network'],
    ['the underlay 192.0.2.0/24', lease('192.0.2.0-24', vx()), onHost(), 'outside-network'],
    ['the /24 just past the network', lease('10.2.0.0-24', vx()), onHost(), 'outside-network'],
    ['an IPv6 subnet outside IPv6Network', lease('10.1.2.0-24&fc00:0:0:200::-64', { publicIPv6: '2001:db8::2', backendType: 'host-gw' }), { config: dual }, 'outside-network'],
    // no-subnet
    ['an IPv6-only key on an IPv4 network', lease('0.0.0.0-0&fc00:0:0:102::-64', vx()), onHost(), 'no-subnet'],
    // overlaps-own-subnet
    ['the own subnet under another key spelling', lease('10.1.1.0-24&fc00:0:0:101::-64', { publicIPv6: '2001:db8::2', backendType: 'host-gw' }), { config: dual, own: lease('10.1.1.0-24&fc00:0:0:1ff::-64') }, 'overlaps-own-subnet'],
    // invalid-public-ip
    ['PublicIP 127.0.0.1', lease('10.1.2.0-24', { ...vx(), publicIP: '127.0.0.1' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 224.0.0.1', lease('10.1.2.0-24', { ...vx(), publicIP: '224.0.0.1' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 255.255.255.255', lease('10.1.2.0-24', { ...vx(), publicIP: '255.255.255.255' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 0.0.0.0 (none)', lease('10.1.2.0-24', { ...vx(), publicIP: '0.0.0.0' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 0.1.2.3 ("this network")', lease('10.1.2.0-24', { ...vx(), publicIP: '0.1.2.3' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 240.0.0.1 (class E)', lease('10.1.2.0-24', { ...vx(), publicIP: '240.0.0.1' }), onHost(), 'invalid-public-ip'],
    ['PublicIP 223.255.255.255 (last unicast /8)', lease('10.1.2.0-24', { ...vx(), publicIP: '223.255.255.255' }), onHost(), undefined],
    ['PublicIP 1.0.0.0 (first after 0/8)', lease('10.1.2.0-24', { ...vx(), publicIP: '1.0.0.0' }), onHost(), undefined],
    ['PublicIP inside the flannel network', lease('10.1.2.0-24', { ...vx(), publicIP: '10.1.3.4' }), onHost(), 'invalid-public-ip'],
    ['PublicIPv6 missing on a dual-stack lease', lease('10.1.2.0-24&fc00:0:0:102::-64', { backendType: 'host-gw' }), { config: dual }, 'invalid-public-ip'],
    ['PublicIPv6 ::1', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: '::1', backendType: 'host-gw' }), { config: dual }, 'invalid-public-ip'],
    ['PublicIPv6 ff02::1', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: 'ff02::1', backendType: 'host-gw' }), { config: dual }, 'invalid-public-ip'],
    ['PublicIPv6 ::', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: '::', backendType: 'host-gw' }), { config: dual }, 'invalid-public-ip'],
    ['PublicIPv6 inside IPv6Network', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: 'fc00:0:0:1ff::9', backendType: 'host-gw' }), { config: dual }, 'invalid-public-ip'],
    ['a good dual-stack lease', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: '2001:db8::2', backendType: 'host-gw' }), { config: dual }, undefined],
    // own-public-ip
    ['PublicIP is this host\'s', lease('10.1.2.0-24', { ...vx(), publicIP: '192.0.2.1' }), onHost(), 'own-public-ip'],
    ['PublicIPv6 is this host\'s', lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: '2001:db8::1', backendType: 'host-gw' }), { config: dual, ownPublicIPs: ['192.0.2.1', '2001:db8::1'] }, 'own-public-ip'],
    // wrong-backend-type
    ['a udp lease (no BackendType) on a vxlan network', lease('10.1.2.0-24'), onHost(), 'wrong-backend-type'],
    ['a host-gw lease on a vxlan network', lease('10.1.2.0-24', { backendType: 'host-gw' }), onHost(), 'wrong-backend-type'],
    ['a vxlan lease on a udp network', lease('10.1.2.0-24', vx()), onHost(udp), 'wrong-backend-type'],
    ['a udp lease (no BackendType) on a udp network', lease('10.1.2.0-24'), onHost(udp), undefined],
    ['BackendType in another case', lease('10.1.2.0-24', { backendType: 'Host-GW' }), onHost(hostGw), undefined],
    // invalid-vtep-mac
    ['VtepMAC missing', lease('10.1.2.0-24', { backendType: 'vxlan', backendData: { VNI: 1 } }), onHost(), 'invalid-vtep-mac'],
    ['BackendData not an object', lease('10.1.2.0-24', { backendType: 'vxlan', backendData: 'x' }), onHost(), 'invalid-vtep-mac'],
    ['VtepMAC not a MAC', lease('10.1.2.0-24', vx('not-a-mac')), onHost(), 'invalid-vtep-mac'],
    ['VtepMAC all zeros', lease('10.1.2.0-24', vx('00:00:00:00:00:00')), onHost(), 'invalid-vtep-mac'],
    ['VtepMAC broadcast', lease('10.1.2.0-24', vx('ff:ff:ff:ff:ff:ff')), onHost(), 'invalid-vtep-mac'],
    ['VtepMAC multicast', lease('10.1.2.0-24', vx('01:00:5e:00:00:01')), onHost(), 'invalid-vtep-mac'],
    ['VtepMAC upper-case (Go accepts it)', lease('10.1.2.0-24', vx('02:42:AC:11:00:02')), onHost(), undefined],
    ['VtepMAC is this host\'s own', lease('10.1.2.0-24', vx('02:42:ac:11:00:09')), { config: vxlan, own: lease('10.1.1.0-24', { publicIP: '192.0.2.1', ...vx('02:42:AC:11:00:09') }) }, 'duplicate-vtep-mac'],
    // IPv6-only vxlan: the IPv6 data is checked
    ['IPv6-only vxlan lease', lease('0.0.0.0-0&fc00:0:0:102::-64', { publicIP: '0.0.0.0', publicIPv6: '2001:db8::2', backendType: 'vxlan', backendV6Data: { VNI: 1, VtepMAC: '02:00:00:00:00:06' } }), { config: v6only }, undefined],
    ['IPv6-only vxlan lease without BackendV6Data', lease('0.0.0.0-0&fc00:0:0:102::-64', { publicIP: '0.0.0.0', publicIPv6: '2001:db8::2', backendType: 'vxlan' }), { config: v6only }, 'invalid-vtep-mac'],
  ];
  test.each(cases)('%s', (_name, l, context, expected) => {
    expect(reasonOf(l, context)).toBe(expected);
  });

  test('each rejection names the values at fault', () => {
    expect(checkLease(lease('10.1.2.0-23', vx()), onHost())?.detail).toBe('10.1.2.0/23 is a /23 but SubnetLen is 24');
    expect(checkLease(lease('10.1.2.9-24', vx()), onHost())?.detail).toContain('10.1.2.0-24');
    expect(checkLease(lease('10.1.2.0-24', { ...vx(), publicIP: '127.0.0.1' }), onHost())?.detail).toBe('PublicIP 127.0.0.1 is a loopback address, not a host\'s');
  });
});

describe('admitLeases', () => {
  test('the own lease is neither admitted nor rejected', () => {
    const result = admitLeases([own, lease('10.1.2.0-24', vx())], onHost());
    expect(result.admitted.map((l) => l.key)).toEqual(['10.1.2.0-24']);
    expect(result.rejected).toEqual([]);
  });

  test('overlapping subnets: the older by create revision wins, the other is rejected naming it', () => {
    const older = lease('10.1.2.0-24&fc00:0:0:102::-64', { publicIPv6: '2001:db8::2', backendType: 'host-gw' }, 5n);
    const younger = lease('10.1.2.0-24&fc00:0:0:103::-64', { publicIP: '192.0.2.3', publicIPv6: '2001:db8::3', backendType: 'host-gw' }, 9n);
    const result = admitLeases([younger, older], { config: dual });
    expect(result.admitted).toEqual([older]);
    expect(result.rejected.map((r) => r.rejection)).toEqual([{ reason: 'overlaps-lease', detail: '10.1.2.0/24 is also claimed by the older lease 10.1.2.0-24&fc00:0:0:102::-64', conflictsWith: older.key }]);
  });

  test('a duplicate VTEP MAC: the older wins; without revisions the key order decides', () => {
    const p1 = lease('10.1.3.0-24', vx('02:00:00:00:00:09'));
    const p2 = lease('10.1.2.0-24', { ...vx('02:00:00:00:00:09'), publicIP: '192.0.2.3' });
    const result = admitLeases([p1, p2], onHost());
    expect(result.admitted).toEqual([p2]);
    expect(result.rejected[0]?.rejection).toMatchObject({ reason: 'duplicate-vtep-mac', conflictsWith: '10.1.2.0-24' });
  });

  test('a lease rejected for its own fault takes no claim from a valid one', () => {
    const bad = lease('10.1.2.0-24', { ...vx('02:00:00:00:00:09'), publicIP: '127.0.0.1' }, 1n);
    const good = lease('10.1.3.0-24', vx('02:00:00:00:00:09'), 2n);
    expect(admitLeases([bad, good], onHost()).admitted).toEqual([good]);
  });
});

/**
 * The delegate config from subnet.env + the plugin's config. The expected values are flannel-io/cni-plugin's
 * (its README's examples and its flannel_linux_test.go cases), plus the one difference we make on purpose: the
 * route to each flannel network carries the subnet's gateway.
 */
import { describe, expect, it } from 'vitest';
import { CniError } from '../src/cni-error.js';
import { buildDelegateConfig } from '../src/delegate-config.js';
import { decodeFlannelSubnetEnv } from '../src/flannel-env.js';
import { parseNetConf } from '../src/net-conf.js';

const V4 = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
const V6 = 'FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
const DUAL = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
const TWO_NETWORKS = 'FLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';

function delegateFor(conf: object, subnetEnv: string) {
  return buildDelegateConfig(parseNetConf(JSON.stringify(conf)), decodeFlannelSubnetEnv(subnetEnv, '/run/flannel/subnet.env'));
}

const base = { name: 'cni-flannel', type: 'flannel' };
const inputRoutes = [{ dst: '10.96.0.0/12' }, { dst: '192.168.244.0/24', gw: '10.1.17.20' }];

describe('delegate config (flannel-io/cni-plugin test cases)', () => {
  it('IPv4: bridge, isGateway, mtu, ipMasq = !FLANNEL_IPMASQ, host-local on the subnet, a route to the network', () => {
    expect(delegateFor(base, V4)).toEqual({
      ipMasq: false,
      ipam: { routes: [{ dst: '10.1.0.0/16', gw: '10.1.17.1' }], ranges: [[{ subnet: '10.1.17.0/24' }]], type: 'host-local' },
      isGateway: true,
      mtu: 1472,
      name: 'cni-flannel',
      type: 'bridge',
    });
  });

  it('IPv4 with two networks: one route to each', () => {
    expect(delegateFor(base, TWO_NETWORKS)['ipam']).toEqual({
      routes: [{ dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: '192.168.0.0/16', gw: '10.1.17.1' }],
      ranges: [[{ subnet: '10.1.17.0/24' }]],
      type: 'host-local',
    });
  });

  it('IPv6 only', () => {
    expect(delegateFor(base, V6)['ipam']).toEqual({ routes: [{ dst: 'fc00::/48', gw: 'fc00::1' }], ranges: [[{ subnet: 'fc00::/64' }]], type: 'host-local' });
  });

  it('dual stack: one range per family, IPv4 first', () => {
    expect(delegateFor(base, DUAL)['ipam']).toEqual({
      routes: [{ dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: 'fc00::/48', gw: 'fc00::1' }],
      ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fc00::/64' }]],
      type: 'host-local',
    });
  });

  it('input ipam: its type, its routes first, unknown fields passed on', () => {
    const conf = { ...base, ipam: { type: 'my-ipam', 'unknown-param': 'unknown-value', routes: inputRoutes } };
    expect(delegateFor(conf, DUAL)['ipam']).toEqual({
      type: 'my-ipam',
      'unknown-param': 'unknown-value',
      routes: [...inputRoutes, { dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: 'fc00::/48', gw: 'fc00::1' }],
      ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fc00::/64' }]],
    });
  });

  it('input ipam without type: host-local', () => {
    const conf = { ...base, ipam: { 'unknown-param': 'unknown-value', routes: inputRoutes } };
    expect(delegateFor(conf, V4)['ipam']).toMatchObject({ type: 'host-local', 'unknown-param': 'unknown-value' });
  });

  it('input ipam ranges are replaced by the flannel subnet', () => {
    const conf = { ...base, ipam: { ranges: [[{ subnet: '172.16.0.0/24' }]] } };
    expect(delegateFor(conf, V4)['ipam']).toMatchObject({ ranges: [[{ subnet: '10.1.17.0/24' }]] });
  });
});

describe('delegate config (flannel-io/cni-plugin README examples)', () => {
  it('{"name":"mynet","type":"flannel"} with FLANNEL_MTU=1472, FLANNEL_IPMASQ=true', () => {
    expect(delegateFor({ name: 'mynet', type: 'flannel' }, V4)).toMatchObject({ name: 'mynet', type: 'bridge', mtu: 1472, ipMasq: false, isGateway: true, ipam: { type: 'host-local' } });
  });

  it('delegate values win: a bridge named mynet0 with mtu 1400', () => {
    const out = delegateFor({ name: 'mynet', type: 'flannel', delegate: { bridge: 'mynet0', mtu: 1400 } }, V4);
    expect(out).toMatchObject({ bridge: 'mynet0', mtu: 1400, type: 'bridge', isGateway: true, ipMasq: false });
  });

  it('another plugin: ipvlan gets no isGateway', () => {
    const out = delegateFor({ name: 'mynet', type: 'flannel', delegate: { type: 'ipvlan', master: 'eth0' } }, V4);
    expect(out).toMatchObject({ type: 'ipvlan', master: 'eth0', mtu: 1472, ipMasq: false });
    expect(out).not.toHaveProperty('isGateway');
  });

  it('given ipMasq and isGateway are kept, even when false', () => {
    const out = delegateFor({ ...base, delegate: { ipMasq: true, isGateway: false } }, V4);
    expect(out).toMatchObject({ ipMasq: true, isGateway: false });
  });

  it('FLANNEL_IPMASQ=false: the bridge masquerades', () => {
    expect(delegateFor(base, V4.replace('IPMASQ=true', 'IPMASQ=false'))).toMatchObject({ ipMasq: true });
  });
});

describe('delegate config: other fields', () => {
  it('cniVersion and runtimeConfig are passed on; keys are sorted as Go writes a map', () => {
    const out = delegateFor({ cniVersion: '0.3.1', ...base, runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80 }] } }, V4);
    expect(out).toMatchObject({ cniVersion: '0.3.1', runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80 }] } });
    expect(Object.keys(out)).toEqual([...Object.keys(out)].sort());
  });

  it('no cniVersion in, none out (flannel passes only a given one)', () => {
    expect(delegateFor(base, V4)).not.toHaveProperty('cniVersion');
  });

  it('subnetFile, dataDir default to flannel\'s; fields match case-insensitively as in Go', () => {
    expect(parseNetConf(JSON.stringify(base))).toMatchObject({ subnetFile: '/run/flannel/subnet.env', dataDir: '/var/lib/cni/flannel', subnetFileWaitSeconds: 10 });
    expect(parseNetConf(JSON.stringify({ ...base, SubnetFile: '/x/subnet.env', datadir: '/x/data' }))).toMatchObject({ subnetFile: '/x/subnet.env', dataDir: '/x/data' });
  });
});

describe('config errors (CNI code 7, or 1 for the version, 6 for non-JSON)', () => {
  const codeOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(CniError);
      return { code: (err as CniError).code, msg: (err as CniError).message };
    }
    throw new Error('did not throw');
  };

  it.each([
    [{ ...base, delegate: { name: 'x' } }, 7, "'delegate' dictionary must not have 'name' field"],
    [{ ...base, delegate: { ipam: {} } }, 7, "'delegate' dictionary must not have 'ipam' field"],
    [{ ...base, delegate: { type: 5 } }, 7, "must have (string) 'type' field"],
    [{ ...base, delegate: 'bridge' }, 7, '"delegate" must be a JSON object'],
    [{ type: 'flannel' }, 7, 'network config has no "name"'],
    [{ ...base, subnetFile: '' }, 7, '"subnetFile" is empty'],
    [{ ...base, subnetFileWaitSeconds: -1 }, 7, '"subnetFileWaitSeconds" must be a number'],
    [{ ...base, cniVersion: '1.1.0' }, 1, 'incompatible CNI versions; config is "1.1.0"'],
    [{ ...base, cniVersion: 7 }, 7, '"cniVersion" must be a string'],
  ])('%j -> code %i', (conf, code, msg) => {
    expect(codeOf(() => parseNetConf(JSON.stringify(conf)))).toEqual({ code, msg: expect.stringContaining(msg) });
  });

  it('not JSON: code 6', () => {
    expect(codeOf(() => parseNetConf('{"name":'))).toEqual({ code: 6, msg: expect.stringContaining('network config on stdin is not JSON') });
    expect(codeOf(() => parseNetConf('[1]'))).toEqual({ code: 6, msg: expect.stringContaining('must be a JSON object') });
  });

  it('bad ipam.routes: code 7 naming the route', () => {
    expect(codeOf(() => delegateFor({ ...base, ipam: { routes: [{ dst: '10.96.0.0/12' }, { dst: 'nope' }] } }, V4))).toEqual({ code: 7, msg: expect.stringContaining('ipam.routes[1]: "dst" must be a CIDR') });
    expect(codeOf(() => delegateFor({ ...base, ipam: { routes: [{ dst: '10.96.0.0/12', gw: 'x' }] } }, V4))).toEqual({ code: 7, msg: expect.stringContaining('"gw" must be an IP address') });
    expect(codeOf(() => delegateFor({ ...base, ipam: { routes: {} } }, V4))).toEqual({ code: 7, msg: expect.stringContaining('must be a list') });
  });
});

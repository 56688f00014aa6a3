/**
 * host-gw against a real kernel: a namespace with eth0 (a veth, 192.0.2.5/24 and 2001:db8::5/64), routes
 * programmed through `ip -batch` and read back with `ip -j route show`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, type Backend, type ExternalInterface, type NetworkConfig } from '@flannel-ts/core';
import { createHostNetwork, createProcessRunner, type CommandRunner } from '@flannel-ts/host-net';
import { addDualStackUnderlay, createNetns, createRecordingLogger, type Netns, type RecordingLogger } from '@flannel-ts/testkit';
import { hostGwBackend } from '../src/index.js';
import { DUAL_STACK, NETWORK, lease } from './leases.js';

const own = lease('10.1.30.0-24&fc00:0:0:1e::-64', '192.0.2.5', { publicIPv6: '2001:db8::5' });
const p6 = lease('10.1.31.0-24&fc00:0:0:1f::-64', '192.0.2.6', { publicIPv6: '2001:db8::6' });
const p7 = lease('10.1.32.0-24&fc00:0:0:20::-64', '192.0.2.7', { publicIPv6: '2001:db8::7' });
const p8 = lease('10.1.33.0-24&fc00:0:0:21::-64', '192.0.2.8', { publicIPv6: '2001:db8::8' });

/** Routes with a gateway on eth0, as `dst via gateway`, sorted. */
async function gatewayRoutes(ns: Netns, family: 4 | 6 = 4): Promise<string[]> {
  const rows = await ns.ipJson<Array<{ dst: string; gateway?: string }>>([`-${family}`, 'route', 'show', 'dev', 'eth0']);
  return rows
    .filter((r) => r.gateway)
    .map((r) => `${r.dst} via ${r.gateway}`)
    .sort();
}

/** Disposed after each test, pass or fail: each runs an `ip monitor`, which would keep its namespace alive. */
const started: Backend[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((backend) => backend[Symbol.asyncDispose]()));
});

async function start(ns: Netns, network: NetworkConfig, ext: ExternalInterface, runner?: CommandRunner): Promise<{ backend: Backend; log: RecordingLogger }> {
  const log = createRecordingLogger();
  const backend = hostGwBackend.create(hostGwBackend.parseConfig(network.backend), {
    log,
    network,
    externalInterface: ext,
    host: createHostNetwork({ netns: ns.name, runner }),
    signal: new AbortController().signal,
  });
  started.push(backend);
  expect(await backend.prepare()).toEqual({ attrs: { backendType: 'host-gw' }, mtu: ext.mtu });
  await backend.attach(own);
  return { backend, log };
}

describe('host-gw backend in a namespace', () => {
  it('adds and removes exactly the peer routes', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const { backend } = await start(ns, NETWORK, ext);
    expect(await gatewayRoutes(ns)).toEqual([]);

    await backend.apply([
      { type: 'added', lease: p6 },
      { type: 'added', lease: p7 },
      { type: 'added', lease: lease('10.1.40.0-24', '192.0.2.40', { backendType: 'vxlan' }) },
    ]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.6', '10.1.32.0/24 via 192.0.2.7']);
    // IPv6 is not enabled in this network: no IPv6 routes.
    expect(await gatewayRoutes(ns, 6)).toEqual([]);

    await backend.apply([{ type: 'added', lease: p8 }]);
    await backend.apply([{ type: 'removed', lease: p7 }]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.6', '10.1.33.0/24 via 192.0.2.8']);

    // A peer that comes back with another address: its route moves.
    await backend.apply([
      { type: 'removed', lease: p6 },
      { type: 'added', lease: lease(p6.key, '192.0.2.66') },
    ]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.66', '10.1.33.0/24 via 192.0.2.8']);
    // The interface's own connected route is untouched.
    expect(await ns.ipJson(['-4', 'route', 'show', '192.0.2.0/24', 'dev', 'eth0'])).toEqual([expect.objectContaining({ dst: '192.0.2.0/24', protocol: 'kernel' })]);

    // Dispose leaves the routes in place (they survive a restart).
    await backend[Symbol.asyncDispose]();
    expect(await gatewayRoutes(ns)).toHaveLength(2);
  });

  it('programs IPv4 and IPv6 routes for dual stack', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const { backend } = await start(ns, DUAL_STACK, ext);
    await backend.apply([
      { type: 'added', lease: p6 },
      { type: 'added', lease: p7 },
    ]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.6', '10.1.32.0/24 via 192.0.2.7']);
    expect(await gatewayRoutes(ns, 6)).toEqual(['fc00:0:0:1f::/64 via 2001:db8::6', 'fc00:0:0:20::/64 via 2001:db8::7']);
    await backend.apply([{ type: 'removed', lease: p6 }]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.32.0/24 via 192.0.2.7']);
    expect(await gatewayRoutes(ns, 6)).toEqual(['fc00:0:0:20::/64 via 2001:db8::7']);
  });

  it('resync re-adds a deleted route, fixes a wrong gateway and removes a stale route', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const { backend, log } = await start(ns, DUAL_STACK, ext);
    const peers = [p6, p7, p8];
    await backend.apply(peers.map((lease) => ({ type: 'added', lease }) as const));

    await ns.exec('ip', ['route', 'del', '10.1.31.0/24', 'dev', 'eth0']);
    await ns.exec('ip', ['route', 'replace', '10.1.32.0/24', 'via', '192.0.2.99', 'dev', 'eth0']);
    await ns.exec('ip', ['route', 'add', '10.1.50.0/24', 'via', '192.0.2.50', 'dev', 'eth0']); // inside Network, no peer
    await ns.exec('ip', ['route', 'add', '198.51.100.0/24', 'via', '192.0.2.50', 'dev', 'eth0']); // outside: not ours
    await ns.exec('ip', ['route', 'add', '10.1.30.0/24', 'via', '192.0.2.30', 'dev', 'eth0']); // the own subnet: never stale
    await ns.exec('ip', ['-6', 'route', 'del', 'fc00:0:0:21::/64', 'dev', 'eth0']);
    await ns.exec('ip', ['-6', 'route', 'add', 'fc00:0:0:50::/64', 'via', '2001:db8::50', 'dev', 'eth0']);

    await backend.resync(peers);
    expect(await gatewayRoutes(ns)).toEqual(
      ['10.1.31.0/24 via 192.0.2.6', '10.1.32.0/24 via 192.0.2.7', '10.1.33.0/24 via 192.0.2.8', '198.51.100.0/24 via 192.0.2.50', '10.1.30.0/24 via 192.0.2.30'].sort(),
    );
    expect(await gatewayRoutes(ns, 6)).toEqual(['fc00:0:0:1f::/64 via 2001:db8::6', 'fc00:0:0:20::/64 via 2001:db8::7', 'fc00:0:0:21::/64 via 2001:db8::8']);
    const repairs = log.records.filter((r) => /^(route recovered|route corrected|stale route removed)$/.test(r.message)).map((r) => `${r.message} ${String(r.fields['subnet'])}`);
    expect(repairs.sort()).toEqual(
      ['route recovered 10.1.31.0/24', 'route corrected 10.1.32.0/24', 'stale route removed 10.1.50.0/24', 'route recovered fc00:0:0:21::/64', 'stale route removed fc00:0:0:50::/64'].sort(),
    );

    // Nothing left to repair: a second resync is silent and sends nothing.
    const before = log.records.length;
    await backend.resync(peers);
    expect(log.records.slice(before).filter((r) => r.level !== 'debug')).toEqual([]);
  });

  it('an idle resync reads nothing; a route deleted by hand is seen by the monitor and restored by the next one', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const real = createProcessRunner();
    const commands: string[] = [];
    const counting: CommandRunner = { run: (command, args, options) => (commands.push([command, ...args].join(' ')), real.run(command, args, options)), stream: real.stream };
    const { backend, log } = await start(ns, DUAL_STACK, ext, counting);
    const peers = [p6, p7, p8];
    await backend.apply(peers.map((lease) => ({ type: 'added', lease }) as const));
    // The batch's own route events make the next resync read once; after that an idle one reads nothing.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await backend.resync(peers);
    await new Promise((resolve) => setTimeout(resolve, 300));
    commands.length = 0;
    await backend.resync(peers);
    await backend.resync(peers);
    expect(commands).toEqual([]);

    await ns.exec('ip', ['route', 'del', '10.1.32.0/24', 'dev', 'eth0']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await backend.resync(peers);
    expect(commands.length).toBeGreaterThan(0);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.6', '10.1.32.0/24 via 192.0.2.7', '10.1.33.0/24 via 192.0.2.8']);
    expect(log.find('route recovered')?.fields['subnet']).toBe('10.1.32.0/24');
  });

  it('resync on start removes the routes of peers that left while it was down', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const first = await start(ns, NETWORK, ext);
    await first.backend.apply([p6, p7, p8].map((lease) => ({ type: 'added', lease }) as const));
    await first.backend[Symbol.asyncDispose]();

    // A new process: p7 left and p9 joined meanwhile. flanneld reconciles the first listing in one resync.
    const p9 = lease('10.1.34.0-24', '192.0.2.9');
    const second = await start(ns, NETWORK, ext);
    await second.backend.resync([p6, p8, p9]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.31.0/24 via 192.0.2.6', '10.1.33.0/24 via 192.0.2.8', '10.1.34.0/24 via 192.0.2.9']);
    expect(second.log.records.filter((r) => r.level === 'info').map((r) => `${r.message} ${String(r.fields['subnet'] ?? '')}`)).toEqual([
      'host-gw backend ready ',
      'stale route removed 10.1.32.0/24',
    ]);
    // Then batches as usual.
    await second.backend.apply([{ type: 'removed', lease: p6 }]);
    expect(await gatewayRoutes(ns)).toEqual(['10.1.33.0/24 via 192.0.2.8', '10.1.34.0/24 via 192.0.2.9']);
  });

  it('refuses a NAT setup before touching anything', async () => {
    await using ns = await createNetns();
    const ext = await addDualStackUnderlay(ns);
    const backend = hostGwBackend.create(
      {},
      { log: createRecordingLogger(), network: NETWORK, externalInterface: { ...ext, publicIP: '203.0.113.5' }, host: createHostNetwork({ netns: ns.name }), signal: new AbortController().signal },
    );
    const err = await backend.prepare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^your PublicIP differs from interface IP, meaning that probably you're on a NAT, which is not supported by host-gw backend: --public-ip 203\.0\.113\.5 is not the address of eth0 \(192\.0\.2\.5\)/,
    );
    expect(await gatewayRoutes(ns)).toEqual([]);
  });
});


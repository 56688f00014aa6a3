/**
 * The peer step against the lease manager on MemoryRegistry and the host-gw backend on a recording host: first
 * reconcile, apply or fall back to resync, one backend call at a time, one duplicate-public-IP monitor.
 */
import { describe, expect, it } from 'vitest';
import { HostCommandError, parseNetworkConfig, type Backend, type Lease, type LeaseAttrs } from '@flannel-ts/core';
import { hostGwBackend } from '@flannel-ts/backend-host-gw';
import { LeaseManager, MemoryRegistry } from '@flannel-ts/lease-manager';
import { createRecordingHost, createRecordingLogger, waitFor, type RecordingHost } from '@flannel-ts/testkit';
import { startPeerStep, type PeerStatus } from '../src/peer-step.js';

const CONFIG = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}}');
const EXT = { name: 'eth0', index: 2, mtu: 1500, ipv4: '192.0.2.5', ipv6: undefined, publicIP: '192.0.2.5', publicIPv6: undefined };
const OWN_ATTRS: LeaseAttrs = { publicIP: '192.0.2.5', backendType: 'host-gw' };
const peerAttrs = (publicIP: string): LeaseAttrs => ({ publicIP, backendType: 'host-gw' });

/** The backend's calls as they start and end, how many ran at once, and a gate that holds `apply`. */
function observed(inner: Backend) {
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  let gate: Promise<void> | undefined;
  let failNextApply = false;
  const around =
    <A extends unknown[]>(name: string, call: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      calls.push(`${name} start`);
      maxActive = Math.max(maxActive, ++active);
      try {
        if (name === 'apply' && gate) await gate;
        if (name === 'apply' && failNextApply) {
          failNextApply = false;
          throw new HostCommandError('ip -batch -', 1, 'RTNETLINK answers: Network is unreachable', 'route replace failed');
        }
        await call(...args);
      } finally {
        active--;
        calls.push(`${name} end`);
      }
    };
  const backend: Backend = {
    type: inner.type,
    prepare: () => inner.prepare(),
    attach: around('attach', (own: Lease) => inner.attach(own)),
    apply: around('apply', (batch) => inner.apply(batch)),
    resync: around('resync', (peers) => inner.resync(peers)),
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
  };
  return {
    backend,
    calls,
    maxActive: () => maxActive,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    failNextApply: () => void (failNextApply = true),
  };
}

async function setup() {
  const registry = new MemoryRegistry();
  const log = createRecordingLogger();
  const manager = new LeaseManager({ registry, log });
  const host: RecordingHost = createRecordingHost({ links: [{ name: 'eth0', index: 2, mtu: 1500, up: true, cidrs: ['192.0.2.5/24'] }], confineRoutesTo: [CONFIG.ipv4!.network] });
  const real = hostGwBackend.create({}, { log, network: CONFIG, externalInterface: EXT, host, signal: new AbortController().signal });
  await real.prepare();
  const backend = observed(real);
  const routes = async () => (await host.routes({ dev: 'eth0' })).filter((r) => r.gateway).map((r) => `${r.dst} via ${r.gateway}`).sort();
  let programmingErrors = 0;
  const metrics = { programmingErrors: { inc: () => void programmingErrors++ }, rejections: { inc: () => undefined } };
  const status: PeerStatus = { conflict: undefined, peersProgrammed: 0 };
  const start = async () => {
    const { lease: own, listing } = await manager.acquireLeaseAndListing({ config: CONFIG, attrs: OWN_ATTRS });
    await backend.backend.attach(own);
    backend.calls.length = 0;
    const step = await startPeerStep({ manager, backend: backend.backend, config: CONFIG, own, attrs: OWN_ATTRS, listing, metrics, status, log, signal: new AbortController().signal });
    return { step, own, [Symbol.asyncDispose]: () => step[Symbol.asyncDispose]() };
  };
  return { registry, log, backend, routes, status, start, programmingErrors: () => programmingErrors };
}

describe('peer step', () => {
  it('reconciles the first listing in one pass, then applies batches, and runs every backend call one at a time', async () => {
    const { registry, backend, routes, status, start } = await setup();
    await registry.putLease('10.1.31.0-24', peerAttrs('192.0.2.31'), 60);
    await using started = await start();
    const { step, own } = started;
    // The first listing is a resync (peers that left while flanneld was down are removed), not a batch.
    expect(backend.calls).toEqual(['resync start', 'resync end']);
    expect(await routes()).toEqual(['10.1.31.0/24 via 192.0.2.31']);
    expect(status.peersProgrammed).toBe(1);

    // While a batch is being applied, a periodic resync and an attach after a re-acquire wait for it.
    const release = backend.hold();
    await registry.putLease('10.1.32.0-24', peerAttrs('192.0.2.32'), 60);
    await waitFor(() => backend.calls.includes('apply start'), { what: 'the batch' });
    const resynced = step.resync();
    const attached = step.setOwn(own);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(backend.calls.slice(2)).toEqual(['apply start']);
    release();
    await Promise.all([resynced, attached]);
    expect(backend.calls.slice(2)).toEqual(['apply start', 'apply end', 'resync start', 'resync end', 'attach start', 'attach end', 'resync start', 'resync end']);
    expect(backend.maxActive()).toBe(1);
    expect(await routes()).toEqual(['10.1.31.0/24 via 192.0.2.31', '10.1.32.0/24 via 192.0.2.32']);
    expect(status.peersProgrammed).toBe(2);
  });

  it('reconciles an empty listing too (leftovers of a previous run are removed)', async () => {
    const { backend, start } = await setup();
    await using _started = await start();
    expect(backend.calls).toEqual(['resync start', 'resync end']);
  });

  it('repairs a batch that failed with a full resync, queued behind it', async () => {
    const { registry, log, backend, routes, start, programmingErrors } = await setup();
    await using _started = await start();
    backend.failNextApply();
    await registry.putLease('10.1.33.0-24', peerAttrs('192.0.2.33'), 60);
    await waitFor(async () => (await routes()).length === 1, { what: 'the resync after the failed batch' });
    expect(backend.calls.slice(2)).toEqual(['apply start', 'apply end', 'resync start', 'resync end']);
    expect(log.find('programming peers failed, reconciling')?.fields).toMatchObject({ reason: 'route replace failed' });
    expect(programmingErrors()).toBe(1);
  });

  it('reports a duplicate public IP while a peer lease names this host, and while another host holds its lease', async () => {
    const { registry, log, status, start } = await setup();
    await using started = await start();
    const { step, own } = started;
    expect(status.conflict).toBeUndefined();

    await registry.putLease('10.1.40.0-24', peerAttrs('192.0.2.5'), 60);
    await waitFor(() => status.conflict !== undefined, { what: 'the conflict' });
    expect(status.conflict).toBe('duplicate public IP: lease 10.1.40.0-24 also claims 192.0.2.5');
    expect(log.find("duplicate public IP: another lease claims this host's address")?.fields).toMatchObject({ subnet: '10.1.40.0-24', publicIP: '192.0.2.5' });
    await registry.deleteLease('10.1.40.0-24');
    await waitFor(() => status.conflict === undefined, { what: 'the conflict to end' });
    expect(log.find('duplicate public IP resolved')?.fields).toMatchObject({ subnet: '10.1.40.0-24' });

    // The lease keeper's signal: another host wrote this host's key. It lasts until a lease is acquired again.
    step.ownLeaseTakenOver(own);
    expect(status.conflict).toBe(`duplicate public IP: another host took over lease ${own.key}`);
    await step.setOwn(own);
    expect(status.conflict).toBeUndefined();
  });
});

/**
 * The contract every data-path backend keeps with flanneld (core's `Backend`), as cases each backend's tests run,
 * once against a recording host (`createRecordingHost`) and once against a real namespace (js-libp2p's
 * interface-compliance-tests, for backends): prepare, acquire with what prepare returned, attach, apply, resync.
 *
 * The cases assert with node:assert, so testkit needs no test runner; a backend's test file turns them into tests:
 *
 *     for (const c of backendContractCases(target)) it(c.name, c.run);
 *
 * Leases: the own lease is 10.1.30.0/24, peer n is 10.1.(30+n).0/24 at 192.0.2.(30+n) (the target's network must
 * hold them, and its underlay reach 192.0.2.0/24 on link). A target that cannot observe its data path on some host
 * (udp's peer table lives in its workers: only packets show it) leaves `programmed` out there; the cases that need
 * it are then not generated, and the name of each generated case says what it checks.
 */
import assert from 'node:assert/strict';
import { createNetns, type Netns } from './netns.js';
import { decodeLeaseAttrs, encodeLeaseAttrs, parseSubnetKey, type Backend, type ExternalInterface, type Lease, type LeaseAttrs, type LeaseBatch } from '@flannel-ts/core';

export interface BackendUnderTest extends AsyncDisposable {
  /** Created, not prepared. */
  readonly backend: Backend;
  readonly externalInterface: ExternalInterface;
  /**
   * What the data path does for peers now, one line per peer subnet (e.g. `10.1.31.0/24 via 192.0.2.31`), in any
   * order; absent when this host cannot show it.
   */
  programmed?(): Promise<string[]>;
}

export interface BackendContractTarget {
  /** A fresh backend on a fresh host for one case; disposed after it (host included). */
  start(): Promise<BackendUnderTest>;
  /** What another host of this backend publishes besides its address (BackendType, BackendData) as peer n. */
  peerAttrs(n: number): Omit<LeaseAttrs, 'publicIP'>;
  /** The line `programmed()` shows for a programmed peer. */
  expectedLine(peer: Lease): string;
}

export interface BackendContractCase {
  readonly name: string;
  run(): Promise<void>;
}

export const CONTRACT_OWN_KEY = '10.1.30.0-24';

function leaseFor(key: string, attrs: LeaseAttrs): Lease {
  const subnets = parseSubnetKey(key);
  if (!subnets.ok) throw new Error(subnets.reason);
  return { key, ...subnets.value, attrs, expiresAt: undefined };
}

/** Peer n as the lease manager delivers it; `publicIP` moves it to another address (same subnet). */
export function contractPeer(target: Pick<BackendContractTarget, 'peerAttrs'>, n: number, publicIP = `192.0.2.${30 + n}`): Lease {
  return leaseFor(`10.1.${30 + n}.0-24`, { publicIP, ...target.peerAttrs(n) });
}

export function backendContractCases(target: BackendContractTarget, options: { readonly observable: boolean }): BackendContractCase[] {
  const peer = (n: number, publicIP?: string) => contractPeer(target, n, publicIP);
  const added = (...leases: Lease[]): LeaseBatch => leases.map((lease) => ({ type: 'added', lease }));
  const removed = (...leases: Lease[]): LeaseBatch => leases.map((lease) => ({ type: 'removed', lease }));
  const expected = (...leases: Lease[]) => leases.map((lease) => target.expectedLine(lease)).sort();

  /** prepare, acquire (the daemon's encode and decode of the attributes through the store), attach. */
  const started = async () => {
    const under = await target.start();
    const ext = under.externalInterface;
    const registration = await under.backend.prepare();
    const published: LeaseAttrs = { publicIP: ext.publicIP ?? '0.0.0.0', publicIPv6: ext.publicIPv6, ...registration.attrs };
    const stored = decodeLeaseAttrs(encodeLeaseAttrs(published));
    assert.ok(stored.ok, 'the attributes prepare() returns decode from the store');
    const own = leaseFor(CONTRACT_OWN_KEY, stored.value);
    await under.backend.attach(own);
    const programmed = async () => {
      assert.ok(under.programmed, 'observable target');
      return (await under.programmed()).sort();
    };
    return { under, registration, published, stored: stored.value, own, programmed };
  };
  const withBackend = (run: (ctx: Awaited<ReturnType<typeof started>>) => Promise<void>) => async () => {
    const ctx = await started();
    try {
      await run(ctx);
    } finally {
      await ctx.under.backend[Symbol.asyncDispose]();
      await ctx.under[Symbol.asyncDispose]();
    }
  };

  const cases: BackendContractCase[] = [
    {
      name: 'prepare returns lease attributes that survive the store and an MTU the underlay carries; attach takes the lease acquired with them',
      run: withBackend(async ({ registration, published, stored, under }) => {
        // What another host reads back is what this one wrote (flannel's JSON, byte for byte).
        assert.equal(encodeLeaseAttrs(stored), encodeLeaseAttrs(published));
        assert.equal(stored.backendType, published.backendType);
        assert.ok(registration.mtu >= 68 && registration.mtu <= under.externalInterface.mtu, `MTU ${registration.mtu} within 68..${under.externalInterface.mtu}`);
        // attach is idempotent: the daemon attaches again after a re-acquire, possibly to the same lease.
        await under.backend.attach(leaseFor(CONTRACT_OWN_KEY, stored));
      }),
    },
    {
      name: 'apply and resync resolve in the order they were called, never both at once, whatever the host does',
      run: withBackend(async ({ under }) => {
        const order: string[] = [];
        const applying = under.backend.apply(added(peer(1), peer(2))).then(() => order.push('apply'));
        const resyncing = under.backend.resync([peer(2), peer(3)]).then(() => order.push('resync'));
        const again = under.backend.apply(removed(peer(3))).then(() => order.push('apply'));
        await Promise.all([applying, resyncing, again]);
        assert.deepEqual(order, ['apply', 'resync', 'apply']);
      }),
    },
  ];
  if (!options.observable) return cases;
  cases.push(
    {
      name: 'attach programs no peer; apply programs added peers and removes removed ones, a moved peer included',
      run: withBackend(async ({ under, programmed }) => {
        assert.deepEqual(await programmed(), []);
        await under.backend.apply(added(peer(1), peer(2)));
        assert.deepEqual(await programmed(), expected(peer(1), peer(2)));
        await under.backend.apply([...removed(peer(1)), ...added(peer(3))]);
        assert.deepEqual(await programmed(), expected(peer(2), peer(3)));
        // A peer that comes back with another address (the lease manager sends removed, then added).
        const moved = peer(2, '192.0.2.62');
        await under.backend.apply([...removed(peer(2)), ...added(moved)]);
        assert.deepEqual(await programmed(), expected(moved, peer(3)));
      }),
    },
    {
      name: 'resync converges on exactly the peers given, from whatever was applied before',
      run: withBackend(async ({ under, programmed }) => {
        await under.backend.apply(added(peer(1), peer(2)));
        await under.backend.resync([peer(2), peer(3), peer(4)]);
        assert.deepEqual(await programmed(), expected(peer(2), peer(3), peer(4)));
        // A batch after a resync builds on the resynced state.
        await under.backend.apply(removed(peer(3)));
        assert.deepEqual(await programmed(), expected(peer(2), peer(4)));
        await under.backend.resync([]);
        assert.deepEqual(await programmed(), []);
      }),
    },
    {
      name: 'a resync that overlaps a batch leaves what the later call says',
      run: withBackend(async ({ under, programmed }) => {
        const applying = under.backend.apply(added(peer(1), peer(2), peer(3)));
        const resyncing = under.backend.resync([peer(4)]);
        await Promise.all([applying, resyncing]);
        assert.deepEqual(await programmed(), expected(peer(4)));
      }),
    },
  );
  return cases;
}

/**
 * Gives `ns` a dual-stack underlay: `eth0` (a veth, its other end `peer0`) at 192.0.2.5/24 and 2001:db8::5/64 (no
 * duplicate address detection, so the address is usable at once), both ends up. Returns eth0 as the
 * ExternalInterface a backend routes over, its public addresses the same.
 */
export async function addDualStackUnderlay(ns: Netns): Promise<ExternalInterface> {
  await ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
  await ns.exec('ip', ['addr', 'add', '192.0.2.5/24', 'dev', 'eth0']);
  await ns.exec('ip', ['-6', 'addr', 'add', '2001:db8::5/64', 'dev', 'eth0', 'nodad']);
  await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
  await ns.exec('ip', ['link', 'set', 'peer0', 'up']);
  const [link] = await ns.ipJson<Array<{ ifindex: number; mtu: number }>>(['link', 'show', 'eth0']);
  return { name: 'eth0', index: link!.ifindex, mtu: link!.mtu, ipv4: '192.0.2.5', ipv6: '2001:db8::5', publicIP: '192.0.2.5', publicIPv6: '2001:db8::5' };
}

/**
 * A namespace with the contract's underlay: `eth0` at 192.0.2.5/24, a veth whose other end `peer0` holds
 * `peerAddresses` (as /32s, so packets to those peers have somewhere to go). Removed on dispose, and at once when
 * setting it up fails.
 */
export async function createContractNamespace(peerAddresses: readonly string[] = []): Promise<Netns> {
  const ns = await createNetns();
  try {
    await ns.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
    await ns.exec('ip', ['addr', 'add', '192.0.2.5/24', 'dev', 'eth0']);
    for (const address of peerAddresses) await ns.exec('ip', ['addr', 'add', `${address}/32`, 'dev', 'peer0']);
    await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    await ns.exec('ip', ['link', 'set', 'peer0', 'up']);
  } catch (err) {
    await ns[Symbol.asyncDispose]();
    throw err;
  }
  return ns;
}

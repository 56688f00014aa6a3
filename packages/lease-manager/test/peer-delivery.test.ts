import { describe, expect, test } from 'vitest';
import { PeerLeaseSet, parseNetworkConfig, parseSubnetKey, silentLogger, type Lease, type LeaseBatch } from '@flannel-ts/core';
import { PeerDelivery } from '../src/peer-delivery.js';

const config = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"udp"}}');

function lease(third: number, publicIP = `192.0.2.${third}`): Lease {
  const key = `10.1.${third}.0-24`;
  const parsed = parseSubnetKey(key);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { key, ...parsed.value, attrs: { publicIP }, expiresAt: null, createRevision: BigInt(third) };
}

/** A backend whose batches can be held open, recording what it was given. */
function recorder() {
  const batches: string[][] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> | undefined;
  return {
    batches,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
    onBatch: async (batch: LeaseBatch) => {
      batches.push(batch.map((e) => `${e.type} ${e.lease.key} ${e.lease.attrs.publicIP}`));
      if (gate) {
        const wait = gate;
        gate = undefined;
        await wait;
      }
    },
  };
}

describe('PeerDelivery', () => {
  test('while a batch runs, changes are coalesced per key: the next batch carries the latest state once', async () => {
    const set = new PeerLeaseSet({ config });
    const backend = recorder();
    const delivery = new PeerDelivery(set, backend.onBatch, silentLogger);
    backend.hold();
    delivery.push(set.apply([{ type: 'added', lease: lease(1) }]).events);
    await new Promise((r) => setTimeout(r, 0));
    // 3000 events over 3 keys while the first batch is held: the backlog is 3 keys, not 3000 events.
    for (let i = 0; i < 1000; i++) {
      delivery.push(set.apply([{ type: 'added', lease: lease(2, `192.0.2.${100 + (i % 50)}`) }]).events);
      delivery.push(set.apply([{ type: 'added', lease: lease(3) }]).events);
      delivery.push(set.apply([{ type: 'removed', lease: lease(3) }]).events);
      delivery.push(set.apply([{ type: 'added', lease: lease(4, `192.0.2.${200 + (i % 7)}`) }]).events);
    }
    expect(delivery.pending).toBe(3);
    backend.release();
    await delivery.idle();
    expect(backend.batches).toEqual([['added 10.1.1.0-24 192.0.2.1'], ['added 10.1.2.0-24 192.0.2.149', 'added 10.1.4.0-24 192.0.2.205']]);
  });

  test('a change and its undoing within one batch window cost nothing; a real change is removed + added', async () => {
    const set = new PeerLeaseSet({ config });
    const backend = recorder();
    const delivery = new PeerDelivery(set, backend.onBatch, silentLogger);
    delivery.push(set.apply([{ type: 'added', lease: lease(1) }]).events);
    await delivery.idle();
    backend.hold();
    delivery.push(set.apply([{ type: 'added', lease: lease(2) }]).events);
    await new Promise((r) => setTimeout(r, 0));
    delivery.push(set.apply([{ type: 'added', lease: lease(1, '192.0.2.99') }]).events);
    delivery.push(set.apply([{ type: 'added', lease: lease(1) }]).events); // back to what was applied
    delivery.push(set.apply([{ type: 'added', lease: lease(5) }, { type: 'removed', lease: lease(5) }]).events);
    delivery.push(set.apply([{ type: 'added', lease: lease(2, '192.0.2.22') }]).events);
    backend.release();
    await delivery.idle();
    expect(backend.batches).toEqual([['added 10.1.1.0-24 192.0.2.1'], ['added 10.1.2.0-24 192.0.2.2'], ['removed 10.1.2.0-24 192.0.2.2', 'added 10.1.2.0-24 192.0.2.22']]);
  });

  test('a reconcile runs between batches with the whole set, and takes it as applied', async () => {
    const set = new PeerLeaseSet({ config });
    const backend = recorder();
    const delivery = new PeerDelivery(set, backend.onBatch, silentLogger);
    backend.hold();
    delivery.push(set.apply([{ type: 'added', lease: lease(1) }]).events);
    await new Promise((r) => setTimeout(r, 0));
    delivery.push(set.apply([{ type: 'added', lease: lease(2) }]).events);
    const seen: string[][] = [];
    const reconciled = delivery.reconcile(async (peers) => {
      seen.push(peers.map((p) => p.key));
      // Changes during the reconcile go into the batch after it.
      delivery.push(set.apply([{ type: 'added', lease: lease(3) }]).events);
    });
    backend.release();
    await reconciled;
    await delivery.idle();
    expect(seen).toEqual([['10.1.1.0-24', '10.1.2.0-24']]);
    // Lease 2 was covered by the reconcile, so only lease 3 follows.
    expect(backend.batches).toEqual([['added 10.1.1.0-24 192.0.2.1'], ['added 10.1.3.0-24 192.0.2.3']]);
  });

  test('a failing batch is logged and the next one still runs', async () => {
    const set = new PeerLeaseSet({ config });
    const errors: string[] = [];
    const log = { ...silentLogger, error: (message: string) => void errors.push(message) };
    let calls = 0;
    const delivery = new PeerDelivery(set, async () => {
      calls++;
      if (calls === 1) throw new Error('boom');
    }, log);
    delivery.push(set.apply([{ type: 'added', lease: lease(1) }]).events);
    await delivery.idle();
    delivery.push(set.apply([{ type: 'added', lease: lease(2) }]).events);
    await delivery.idle();
    expect(calls).toBe(2);
    expect(errors).toEqual(['applying lease batch failed']);
  });
});

import { describe, expect, it } from 'vitest';
import { IpNet } from '@flannel-ts/core';
import { PeerTable, PrefixTable, prefixMask } from '../src/peer-table.js';

const ip = (t: string) => t.split('.').reduce((a, o) => a * 256 + Number(o), 0);

describe('PeerTable', () => {
  const net = (t: string) => IpNet.parse(t)!;

  it('routes a destination to the peer owning its subnet, longest prefix first', () => {
    const table = new PeerTable();
    table.set(net('10.1.31.0/24'), { address: '192.0.2.12', port: 8285 });
    table.set(net('10.1.32.0/24'), { address: '192.0.2.13', port: 8285 });
    table.set(net('10.1.32.128/25'), { address: '192.0.2.14', port: 8285 });
    expect(table.lookup(ip('10.1.31.7'))?.address).toBe('192.0.2.12');
    expect(table.lookup(ip('10.1.32.7'))?.address).toBe('192.0.2.13');
    expect(table.lookup(ip('10.1.32.200'))?.address).toBe('192.0.2.14');
    expect(table.lookup(ip('10.1.33.1'))).toBeUndefined();
  });

  it('knows senders by public IP and forgets them with their last subnet', () => {
    const table = new PeerTable();
    table.set(net('10.1.31.0/24'), { address: '192.0.2.12', port: 8285 });
    table.set(net('10.1.40.0/24'), { address: '192.0.2.12', port: 8285 });
    expect(table.isKnownSender('192.0.2.12')).toBe(true);
    table.delete(net('10.1.31.0/24'));
    expect(table.isKnownSender('192.0.2.12')).toBe(true);
    table.delete(net('10.1.40.0/24'));
    expect(table.isKnownSender('192.0.2.12')).toBe(false);
    expect(table.size).toBe(0);
  });

  it('replaces a subnet whose peer changed address', () => {
    const table = new PeerTable();
    table.set(net('10.1.31.0/24'), { address: '192.0.2.12', port: 8285 });
    table.set(net('10.1.31.0/24'), { address: '192.0.2.99', port: 8285 });
    expect(table.lookup(ip('10.1.31.1'))?.address).toBe('192.0.2.99');
    expect(table.isKnownSender('192.0.2.12')).toBe(false);
  });
});

// The table the data-path workers route every packet with: numbers in, numeric senders (see datapath-worker.ts).
describe('PrefixTable', () => {
  interface WorkerRoute {
    readonly address: number;
    readonly port: number;
  }
  const newTable = () => new PrefixTable<WorkerRoute, number>((route) => route.address);

  it('masks by prefix length', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(ip('255.255.255.0'));
    expect(prefixMask(25)).toBe(ip('255.255.255.128'));
    expect(prefixMask(32)).toBe(ip('255.255.255.255'));
  });

  it('routes longest prefix first, and falls back to the shorter one when the longer goes', () => {
    const table = newTable();
    table.set(ip('10.1.32.0'), 24, { address: ip('192.0.2.13'), port: 8285 });
    table.set(ip('10.1.32.128'), 25, { address: ip('192.0.2.14'), port: 8285 });
    expect(table.lookup(ip('10.1.32.200'))?.address).toBe(ip('192.0.2.14'));
    expect(table.delete(ip('10.1.32.128'), 25)?.address).toBe(ip('192.0.2.14'));
    expect(table.lookup(ip('10.1.32.200'))?.address).toBe(ip('192.0.2.13'));
    expect(table.delete(ip('10.1.32.128'), 25)).toBeUndefined();
  });

  it('counts a sender once per subnet it serves, through replacement and clear', () => {
    const table = newTable();
    table.set(ip('10.1.31.0'), 24, { address: ip('192.0.2.12'), port: 8285 });
    table.set(ip('10.1.40.0'), 24, { address: ip('192.0.2.12'), port: 8285 });
    table.set(ip('10.1.31.0'), 24, { address: ip('192.0.2.99'), port: 8285 });
    expect(table.isKnownSender(ip('192.0.2.12'))).toBe(true);
    expect(table.isKnownSender(ip('192.0.2.99'))).toBe(true);
    table.delete(ip('10.1.40.0'), 24);
    expect(table.isKnownSender(ip('192.0.2.12'))).toBe(false);
    table.clear();
    expect(table.isKnownSender(ip('192.0.2.99'))).toBe(false);
    expect(table.lookup(ip('10.1.31.1'))).toBeUndefined();
  });

  it('routes a /0 and sender 0.0.0.0 like any other', () => {
    const table = newTable();
    table.set(0, 0, { address: 0, port: 8285 });
    expect(table.lookup(ip('203.0.113.9'))?.address).toBe(0);
    expect(table.isKnownSender(0)).toBe(true);
  });
});

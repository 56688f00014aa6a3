import { describe, expect, it } from 'vitest';
import { IpNet, KernelReadGate, sameLeases, type KernelEvent, type Lease } from '../src/index.js';

const route = (dev: string): KernelEvent => ({ object: 'route', deleted: false, dev, dst: '10.1.5.0/24' }) as KernelEvent;

describe('KernelReadGate', () => {
  it('reads every time without a monitor, and after the monitor stops', () => {
    const gate = new KernelReadGate(100);
    gate.reading();
    expect(gate.mustRead(true)).toBe(true);
    const handlers = gate.watch(() => true, () => undefined);
    gate.reading();
    expect(gate.mustRead(true)).toBe(false);
    handlers.onStop();
    expect(gate.mustRead(true)).toBe(true);
    gate.reading();
    expect(gate.mustRead(true)).toBe(true);
  });

  it('skips while nothing relevant happened, reads after a relevant event, other peers or a dropped notification', () => {
    const gate = new KernelReadGate(100);
    let lost = 0;
    const handlers = gate.watch((event) => event.dev === 'eth0', () => lost++);
    // The first resync reads: nothing is known yet.
    expect(gate.mustRead(true)).toBe(true);
    gate.reading();
    expect(gate.mustRead(true)).toBe(false);
    handlers.onEvent(route('docker0'));
    expect(gate.mustRead(true)).toBe(false);
    expect(gate.mustRead(false)).toBe(true);
    handlers.onEvent(route('eth0'));
    expect(gate.mustRead(true)).toBe(true);
    gate.reading();
    handlers.onLost();
    handlers.onLost();
    expect(lost).toBe(1);
    expect(gate.mustRead(true)).toBe(true);
    gate.reading();
    expect(gate.mustRead(true)).toBe(false);
  });

  it('reads every fullEvery-th resync regardless', () => {
    const gate = new KernelReadGate(3);
    gate.watch(() => true, () => undefined);
    gate.reading();
    expect([gate.mustRead(true), gate.mustRead(true), gate.mustRead(true)]).toEqual([false, false, true]);
    gate.reading();
    expect(gate.mustRead(true)).toBe(false);
  });
});

describe('sameLeases', () => {
  const lease = (third: number, publicIP: string): Lease => ({
    key: `10.1.${third}.0-24`,
    subnet: IpNet.parse(`10.1.${third}.0/24`)!,
    ipv6Subnet: undefined,
    attrs: { publicIP, backendType: 'host-gw' },
    expiresAt: undefined,
  });
  it('compares by key and attributes, not by object', () => {
    const known = new Map([lease(1, '192.0.2.1'), lease(2, '192.0.2.2')].map((l) => [l.key, l]));
    expect(sameLeases(known, [lease(2, '192.0.2.2'), lease(1, '192.0.2.1')])).toBe(true);
    expect(sameLeases(known, [lease(1, '192.0.2.1')])).toBe(false);
    expect(sameLeases(known, [lease(1, '192.0.2.1'), lease(2, '192.0.2.9')])).toBe(false);
    expect(sameLeases(known, [lease(1, '192.0.2.1'), lease(3, '192.0.2.2')])).toBe(false);
  });
});

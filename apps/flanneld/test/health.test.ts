/**
 * The health server is the root daemon's only listening port: slow or idle clients are cut off, the number of
 * connections is capped, and what is served stays small.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@flannel-ts/core';
import { HEALTH_LIMITS, startHealthServer } from '../src/health.js';

const start = (limits: Partial<Record<keyof typeof HEALTH_LIMITS, number>>) =>
  startHealthServer({ host: '127.0.0.1', port: 0, readiness: () => ({ ready: true, reason: '' }), log: silentLogger, limits });

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Milliseconds until the server closes the socket (or `limitMs` if it does not). */
function closedWithin(socket: Socket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(limitMs), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.on('error', () => undefined);
    socket.resume();
  });
}

describe('health server limits', () => {
  it('defaults: headers within 5 s, a request within 10 s, at most 64 connections', () => {
    expect(HEALTH_LIMITS).toEqual({ headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxConnections: 64 });
  });

  it('closes a client that sends its headers too slowly, and one that sends nothing', async () => {
    await using server = await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 1_500 });
    const slow = await open(server.port);
    slow.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finishes the headers
    const silent = await open(server.port);
    const [slowMs, silentMs] = await Promise.all([closedWithin(slow, 6_000), closedWithin(silent, 6_000)]);
    expect(slowMs).toBeLessThan(4_000);
    expect(silentMs).toBeLessThan(4_000);
  });

  it('refuses connections beyond the cap and still serves once they are gone', async () => {
    await using server = await start({ maxConnections: 4 });
    const held = await Promise.all([1, 2, 3, 4].map(() => open(server.port)));
    const extra = await open(server.port);
    expect(await closedWithin(extra, 2_000)).toBeLessThan(2_000);
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const answer = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    expect(answer.status).toBe(200);
  });
});

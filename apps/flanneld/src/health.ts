/**
 * flannel's health endpoints (flannel-compat.md §7.4): `GET /healthz` answers while the process runs,
 * `GET /readyz` answers 200 while the daemon is ready and 503 with the reason otherwise, and `GET /metrics` serves
 * Prometheus metrics.
 */
import { createServer } from 'node:http';
import type { Logger } from '@flannel-ts/core';

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
}

export interface HealthServer extends AsyncDisposable {
  readonly port: number;
}

/**
 * Limits for a root daemon's HTTP port: a client that sends its request slowly (or never) is cut off after a few
 * seconds, and the number of open connections is capped, so no client can hold the daemon's descriptors.
 */
export const HEALTH_LIMITS = { headersTimeoutMs: 5_000, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000, maxConnections: 64 } as const;

export interface HealthServerOptions {
  readonly host: string;
  readonly port: number;
  readonly readiness: () => Readiness;
  readonly metrics?: () => Promise<{ contentType: string; body: string }>;
  readonly log: Logger;
  readonly limits?: Partial<Record<keyof typeof HEALTH_LIMITS, number>>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const limits = { ...HEALTH_LIMITS, ...options.limits };
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this interval (default 30 s): often enough to honour a few seconds.
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed\n');
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('flanneld is running\n');
    } else if (path === '/metrics' && options.metrics) {
      options
        .metrics()
        .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body))
        .catch((err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${String(err)}\n`));
    } else if (path === '/readyz') {
      const readiness = options.readiness();
      res.writeHead(readiness.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(readiness.ready ? 'flanneld is ready\n' : `flanneld is not ready yet: ${readiness.reason}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
    },
  );
  server.maxConnections = limits.maxConnections;
  // A connection that goes quiet (after a request, or before sending anything) is closed too.
  server.setTimeout(limits.requestTimeoutMs, (socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.log.info('health server listening', { address: `${options.host}:${port}` });
  return {
    port,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

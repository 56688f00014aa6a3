/**
 * Connecting to etcd: endpoints, TLS and username/password, as flanneld's `--etcd-*` flags give them
 * (flannel-compat.md §1.10). Certificates arrive as bytes: reading files is the app's job.
 */
import { createRequire } from 'node:module';
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import type { Etcd3, IOptions } from 'etcd3';
import { FlannelError } from '@flannel-ts/core';

type Etcd3Module = typeof import('etcd3');

/**
 * etcd3 (with grpc-js and protobufjs, which parses etcd's service definitions as it loads: about 110 ms and 20 MiB)
 * is loaded when the first client is made, not when this package is imported, so a command that never talks to
 * etcd (--help, --version, a usage error) does not pay for it. The apps' bundler turns this exact call into its own
 * bundled require (tsup.preset.ts): keep it as it is.
 */
const requireEtcd3 = (): Etcd3Module => createRequire(import.meta.url)('etcd3') as Etcd3Module;

/** etcd3 once loaded, for isRetryable: its error classes exist only then. */
let etcd3: Etcd3Module | undefined;

function loadEtcd3(): Etcd3Module {
  etcd3 ??= requireEtcd3();
  return etcd3;
}

/** etcd3 if anything loaded it (a client made with `new Etcd3` elsewhere in the process included). */
function loadedEtcd3(): Etcd3Module | undefined {
  if (etcd3) return etcd3;
  try {
    const require = createRequire(import.meta.url);
    return require.cache[require.resolve('etcd3')]?.exports as Etcd3Module | undefined;
  } catch {
    return undefined;
  }
}

export const DEFAULT_ETCD_ENDPOINTS = ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'] as const;
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export interface EtcdConnectionOptions {
  readonly endpoints: readonly string[];
  /** PEM bytes. TLS is used when `cert` and `key` are both given (as flannel does); `ca` then verifies the server. */
  readonly tls?: { readonly ca?: Buffer | undefined; readonly cert?: Buffer | undefined; readonly key?: Buffer | undefined } | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Per-call deadline, so a hung member cannot stall the daemon. */
  readonly callTimeoutMs?: number | undefined;
}

export function connectEtcd(options: EtcdConnectionOptions): Etcd3 {
  if (options.endpoints.length === 0) {
    throw new FlannelError('USAGE', 'no etcd endpoints given: pass --etcd-endpoints, e.g. http://127.0.0.1:2379');
  }
  for (const endpoint of options.endpoints) {
    if (!/^(https?|unix|unixs):\/\//.test(endpoint)) {
      throw new FlannelError('USAGE', `etcd endpoint "${endpoint}" has no scheme: write it as http://host:port, https://host:port or unix:///path`);
    }
  }
  const callTimeoutMs = options.callTimeoutMs ?? 10_000;
  const { Etcd3, isRecoverableError } = loadEtcd3();
  const config: IOptions = {
    hosts: [...options.endpoints],
    dialTimeout: 5_000,
    // A member that fails three calls in a row is skipped for 1 s (etcd3's default: 5 s), so with one member of
    // three down the others take every call and the dead one is tried again soon after it returns.
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
    },
    // Keepalive pings notice a dead member or a partition on an idle watch stream.
    grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000, 'grpc.keepalive_permit_without_calls': 1 },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
  };
  const { tls } = options;
  // flannel builds a client TLS config only when both cert and key are given; a CA alone still verifies https.
  // Without a CA, grpc falls back to the system roots (etcd3 passes the undefined through to createSsl).
  if ((tls?.cert && tls.key) || tls?.ca) {
    config.credentials = {
      rootCertificate: tls.ca as Buffer,
      ...(tls.cert && tls.key ? { certChain: tls.cert, privateKey: tls.key } : {}),
    };
  }
  if (options.username) config.auth = { username: options.username, password: options.password ?? '' };
  return new Etcd3(config);
}

/** Errors that mean "etcd is not reachable right now": retry with back-off. */
export function isRetryable(err: unknown): boolean {
  const etcd3 = loadedEtcd3();
  if (etcd3 && (err instanceof etcd3.GRPCUnavailableError || err instanceof etcd3.GRPCDeadlineExceededError || err instanceof etcd3.EtcdWatchStreamEnded)) return true;
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'BrokenCircuitError' ||
    err.name === 'TaskCancelledError' ||
    /UNAVAILABLE|DEADLINE_EXCEEDED|ECONNREFUSED|No connection established|circuit|etcdserver: (request timed out|leader changed|no leader)/i.test(err.message)
  );
}

/**
 * Connecting to etcd: endpoints, TLS and username/password, as flanneld's `--etcd-*` flags give them
 * (flannel-compat.md §1.10). Certificates arrive as bytes: reading files is the app's job.
 */
import { createRequire } from 'node:module';
import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import type { Etcd3, IOptions } from 'etcd3';
import { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, FlannelError, endpointProblem, type Logger } from '@flannel-ts/core';

// Defined in core (the CLIs' option tables need them without loading etcd3); kept here for existing importers.
export { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX };

type GrpcSetLogger = (logger: { error: (...args: unknown[]) => void; info: (...args: unknown[]) => void; debug: (...args: unknown[]) => void }) => void;
/** The apps' bundled etcd3 also carries the setLogger of the grpc-js inside it (tsup.preset.ts). */
type Etcd3Module = typeof import('etcd3') & { readonly setGrpcLogger?: GrpcSetLogger };

/**
 * etcd3 (with grpc-js and protobufjs, which parses etcd's service definitions as it loads: about 110 ms and 20 MiB)
 * is loaded when the first client is made, not when this package is imported, so a command that never talks to
 * etcd (--help, --version, a usage error) does not pay for it. The apps' bundler turns this exact call into its own
 * bundled require (tsup.preset.ts): keep it as it is.
 */
const requireEtcd3 = (): Etcd3Module => createRequire(import.meta.url)('etcd3') as Etcd3Module;

/** etcd3 once loaded, for isRetryable: its error classes exist only then. */
let etcd3: Etcd3Module | undefined;

/** Where grpc-js's own log lines go once etcd3 (and so grpc-js) is loaded; see routeGrpcLogs. */
let grpcLog: Logger | undefined;

function loadEtcd3(): Etcd3Module {
  if (!etcd3) {
    etcd3 = requireEtcd3();
    if (grpcLog) applyGrpcLog(etcd3, grpcLog);
  }
  return etcd3;
}

function applyGrpcLog(module: Etcd3Module, log: Logger): void {
  // Unbundled, etcd3's grpc-js is the one this package resolves (one version in the workspace).
  const setLogger = module.setGrpcLogger ?? (createRequire(import.meta.url)('@grpc/grpc-js') as { setLogger: GrpcSetLogger }).setLogger;
  const line = (message: unknown, ...rest: unknown[]) => log.debug('grpc', { line: [message, ...rest].map(String).join(' ') });
  setLogger({ error: line, info: line, debug: line });
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
    const problem = endpointProblem(endpoint);
    if (problem) throw new FlannelError('USAGE', problem);
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

/**
 * An etcd3 / grpc error as one readable line: the first line, without grpc's "Resolution note:" suffix (empty for
 * a refused connection, which left log lines ending in a dangling "Resolution note: ").
 */
export function describeEtcdError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .split('\n')[0]!
    .replace(/\s*Resolution note:.*$/, '')
    .trim();
}

/**
 * Sends grpc-js's own log lines (e.g. "rejected by server because of excess pings") to `log` at debug level instead
 * of the process's stderr. grpc-js keeps one logger per process, so only an app calls this, once, at start.
 */
export function routeGrpcLogs(log: Logger): void {
  grpcLog = log;
  // Applied when etcd3 loads (with the first client), or now if it already has.
  if (etcd3) applyGrpcLog(etcd3, log);
}

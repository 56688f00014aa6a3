/**
 * What a command handler receives: output streams, a logger, stdin, and a factory that connects to etcd on first
 * use (so `config validate FILE` never needs etcd). The store is closed by runCli when the command ends.
 */
import { readFile } from 'node:fs/promises';
import { FlannelError, errorMessage, type Logger } from '@flannel-ts/core/command-line';
import type { LeaseManager, Registry, connectEtcd } from '@flannel-ts/lease-manager';
import type { EtcdCliOptions, Env } from './options.js';

export interface TextWriter {
  write(chunk: string): unknown;
}

export interface Store {
  readonly registry: Registry;
  readonly manager: LeaseManager;
}

export interface CommandContext {
  /** Writes one block of command output (a newline is added). */
  readonly out: (text: string) => void;
  /** Writes one diagnostic line to stderr (a newline is added). */
  readonly err: (text: string) => void;
  /** `warning: ...` on stderr. */
  readonly warn: (text: string) => void;
  readonly log: Logger;
  /** Reads a file, or stdin for `-`. */
  readonly readInput: (path: string) => Promise<string>;
  readonly now: () => number;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** The environment flannelctl runs in (FLANNELD_* variables). */
  readonly env: Env;
  /** The etcd options in effect (for messages that name the endpoints). */
  readonly etcd: EtcdCliOptions;
  openStore(): Promise<Store>;
}

export interface StoreFactory {
  open(): Promise<Store>;
  /** True once `open` was called (errors after that are etcd errors). */
  readonly opened: boolean;
  close(): void;
}

/** Per-call deadline handed to etcd3, so an unreachable member fails fast instead of hanging. */
export const ETCD_CALL_TIMEOUT_MS = 5_000;

export function createStoreFactory(options: EtcdCliOptions, log: Logger, warn: (text: string) => void): StoreFactory {
  let client: ReturnType<typeof connectEtcd> | undefined;
  let store: Promise<Store> | undefined;
  return {
    get opened() {
      return store !== undefined;
    },
    open() {
      store ??= (async () => {
        // Loaded on first use: help, version and completion never load etcd3 or grpc.
        const { EtcdRegistry, LeaseManager, connectEtcd, routeGrpcLogs } = await import('@flannel-ts/lease-manager');
        // grpc-js's own lines go to the logger at debug level, not to stderr.
        routeGrpcLogs(log.child('grpc'));
        const tls = await readTlsFiles(options, warn);
        client = connectEtcd({
          endpoints: options.etcdEndpoints,
          tls,
          username: options.etcdUsername,
          password: options.etcdPassword,
          callTimeoutMs: ETCD_CALL_TIMEOUT_MS,
        });
        const registry = new EtcdRegistry(client, options.etcdPrefix);
        return { registry, manager: new LeaseManager({ registry, log }) };
      })();
      return store;
    },
    close() {
      client?.close();
      client = undefined;
    },
  };
}

async function readTlsFiles(options: EtcdCliOptions, warn: (text: string) => void) {
  let { etcdCertfile: certfile, etcdKeyfile: keyfile } = options;
  // As flanneld: client TLS needs both the certificate and the key; one alone is ignored with a warning.
  if ((certfile === undefined) !== (keyfile === undefined)) {
    warn(`--etcd-certfile and --etcd-keyfile are needed together for client TLS; ignoring --etcd-${certfile ? 'certfile' : 'keyfile'}`);
    certfile = keyfile = undefined;
  }
  const read = async (flag: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw new FlannelError('STORE_UNAVAILABLE', `cannot read --${flag} ${path} (${errorMessage(err)}): fix the path or drop the flag`, { cause: err });
    }
  };
  const ca = await read('etcd-cafile', options.etcdCafile);
  const cert = await read('etcd-certfile', certfile);
  const key = await read('etcd-keyfile', keyfile);
  return ca || cert ? { ca, cert, key } : undefined;
}

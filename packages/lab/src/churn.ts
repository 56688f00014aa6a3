/**
 * Lease churn, as a large network produces it all day: hosts joining, leaving and renewing, written straight into
 * etcd as fast as it takes them (bounded in count and time), over a pool of subnets of a /8 network. Used by the
 * churn e2e test and benchmark: what matters is that every host's kernel ends up equal to the live leases.
 */
import { connectEtcd } from '@flannel-ts/lease-manager';

export type ChurnBackend = 'vxlan' | 'host-gw' | 'udp';

export interface ChurnOptions {
  /** An etcd endpoint reachable from this process. */
  readonly endpoint: string;
  readonly backend: ChurnBackend;
  /** Subnets 10.<200 + i / 256>.<i % 256>.0/24 for i in [0, pool): far from the lab hosts' own 10.x subnets. */
  readonly pool: number;
  /** Stop after this many writes... */
  readonly maxEvents: number;
  /** ...or after this long, whichever comes first. */
  readonly maxMs: number;
  /** Writes in flight at once. */
  readonly concurrency?: number;
  /** Probability that a write to a live key is a delete (else a put: a renewal or a change). */
  readonly deleteRatio?: number;
  readonly seed?: number;
  readonly prefix?: string;
}

export interface ChurnResult {
  readonly events: number;
  readonly puts: number;
  readonly deletes: number;
  readonly elapsedMs: number;
  /** The leases live at the end: subnet key -> public IP. */
  readonly live: ReadonlyMap<string, { readonly publicIP: string; readonly mac: string }>;
}

export function churnSubnet(index: number): string {
  return `10.${200 + Math.floor(index / 256)}.${index % 256}.0`;
}

export function churnKey(index: number): string {
  return `${churnSubnet(index)}-24`;
}

/** The lease value a host of this backend would write, with a unique VTEP MAC per subnet. */
export function churnValue(backend: ChurnBackend, index: number, generation: number): { value: string; publicIP: string; mac: string } {
  // Fake peers on the underlay (192.0.2.100-249): routes via them are valid; nothing answers there.
  const publicIP = `192.0.2.${100 + ((index + generation) % 150)}`;
  const mac = `02:c0:${((index >> 8) & 0xff).toString(16).padStart(2, '0')}:${(index & 0xff).toString(16).padStart(2, '0')}:00:${(generation & 0xff).toString(16).padStart(2, '0')}`;
  const attrs: Record<string, unknown> = { PublicIP: publicIP, PublicIPv6: null };
  if (backend !== 'udp') attrs['BackendType'] = backend;
  if (backend === 'vxlan') attrs['BackendData'] = { VNI: 1, VtepMAC: mac };
  return { value: JSON.stringify(attrs), publicIP, mac };
}

export async function runLeaseChurn(options: ChurnOptions): Promise<ChurnResult> {
  const client = connectEtcd({ endpoints: [options.endpoint] });
  const prefix = `${options.prefix ?? '/coreos.com/network'}/subnets/`;
  const live = new Map<string, { publicIP: string; mac: string }>();
  const generations = new Map<number, number>();
  let seed = options.seed ?? 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const deleteRatio = options.deleteRatio ?? 0.45;
  let events = 0;
  let puts = 0;
  let deletes = 0;
  const started = Date.now();
  const deadline = started + options.maxMs;
  // Keys being written right now: one write per key at a time, so the final state is known exactly.
  const busy = new Set<number>();
  try {
    const worker = async () => {
      while (events < options.maxEvents && Date.now() < deadline) {
        let index = Math.floor(random() * options.pool);
        for (let tries = 0; busy.has(index) && tries < 8; tries++) index = Math.floor(random() * options.pool);
        if (busy.has(index)) continue;
        busy.add(index);
        events++;
        const key = churnKey(index);
        try {
          if (live.has(key) && random() < deleteRatio) {
            await client.delete().key(prefix + key).exec();
            live.delete(key);
            deletes++;
          } else {
            // A change of attributes half the time (a host restarting elsewhere), else a renewal.
            const generation = (generations.get(index) ?? 0) + (random() < 0.5 ? 1 : 0);
            generations.set(index, generation);
            const { value, publicIP, mac } = churnValue(options.backend, index, generation);
            await client.put(prefix + key).value(value).exec();
            live.set(key, { publicIP, mac });
            puts++;
          }
        } finally {
          busy.delete(index);
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 32 }, worker));
  } finally {
    client.close();
  }
  return { events, puts, deletes, elapsedMs: Date.now() - started, live };
}

/** Deletes every churn key (the pool), so a run leaves the store as it found it. */
export async function clearChurn(endpoint: string, prefix = '/coreos.com/network'): Promise<void> {
  const client = connectEtcd({ endpoints: [endpoint] });
  try {
    for (let second = 200; second < 256; second++) await client.delete().prefix(`${prefix}/subnets/10.${second}.`).exec();
  } finally {
    client.close();
  }
}

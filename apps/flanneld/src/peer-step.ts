/**
 * flanneld's peer step: from the peer watch to the backend (flannel-compat.md §1.8, §7.3 "watch peers").
 *
 * - One queue for the backend. Every call the daemon makes into the backend after start (each batch, the first
 *   reconcile, the periodic and fall-back resyncs, attach after a re-acquire) runs through the peer watch's
 *   delivery queue (lease-manager's PeerDelivery), one at a time: no `apply` overlaps a `resync` or an `attach`,
 *   whatever the backend. Backends that repair on their own (vxlan, after its device is deleted) queue that
 *   repair behind the calls they are given (core's SerialQueue), so it cannot interleave with an apply either.
 * - The first listing is the whole peer set: it is reconciled in one pass (removing entries of peers that left
 *   while flanneld was down), not applied as a batch. A batch that fails is repaired by a full resync, queued
 *   behind it.
 * - Log lines per peer while changes are few, summaries under churn (thousands of events a second would flood the
 *   log and cost more than programming them).
 * - One duplicate-public-IP monitor: a peer lease naming this host's address (core's `leasesNamingAddresses`,
 *   the decision `flannelctl status` and `doctor` take too), or another host taking over this host's lease key
 *   (seen by the lease keeper). Either makes /readyz fail until it is gone.
 */
import { errorMessage, leasesNamingAddresses, publicAddressesOf, type Backend, type Lease, type LeaseAttrs, type LeaseBatch, type Logger, type NetworkConfig, type PeerUpdate } from '@flannel-ts/core';
import type { LeaseListing, LeaseManager, PeerWatch } from '@flannel-ts/lease-manager';
import type { DaemonMetrics } from './metrics.js';

/** Where the peer step reports what /readyz and /metrics read (the daemon's state). */
export interface PeerStatus {
  /** Set while a duplicate public IP is seen: /readyz says so. */
  conflict: string | undefined;
  peersProgrammed: number;
}

export interface PeerStepDeps {
  readonly manager: Pick<LeaseManager, 'watchPeers'>;
  readonly backend: Backend;
  readonly config: NetworkConfig;
  /** This host's lease, as acquired. */
  readonly own: Lease;
  /** The attributes this host published: its public addresses are never a peer's. */
  readonly attrs: LeaseAttrs;
  /** The listing the lease was acquired with: the watch starts from it instead of listing again. */
  readonly listing?: LeaseListing | undefined;
  readonly metrics: Pick<DaemonMetrics, 'programmingErrors' | 'rejections'>;
  readonly status: PeerStatus;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

export interface PeerStep extends AsyncDisposable {
  /** The admitted peers: what the backend programs. */
  readonly watch: Pick<PeerWatch, 'peers' | 'rejected'>;
  /** A full reconcile of the backend with the admitted peers, queued between batches (the periodic resync). */
  resync(): Promise<void>;
  /** After a re-acquire: the watch and the monitor learn the new own lease; the backend is attached and reconciled. */
  setOwn(own: Lease): Promise<void>;
  /** The lease keeper saw another host write this host's lease key (it claims this host's public IP). */
  ownLeaseTakenOver(own: Lease): void;
}

/** Batches of at most this many events log a line per peer (within the line budget). */
const PER_PEER_BATCH = 20;

/** Starts watching peers; resolves once the first listing is programmed (the daemon is then ready). */
export async function startPeerStep(deps: PeerStepDeps): Promise<PeerStep> {
  const { backend, log, metrics, status } = deps;
  const duplicates = new DuplicatePublicIPMonitor(deps.own, [deps.attrs.publicIP, deps.attrs.publicIPv6], status, log);
  const peerLines = lineBudget(200, 10_000);
  const changedSummary = summaryEvery(10_000, (added, removed) => log.info('peers changed', { added, removed }));
  let reconciled = false;
  // Known once the watch exists; a failed batch is then repaired by a full resync.
  let watch: PeerWatch | undefined;

  /** A full reconcile of the backend with `all` peers; a failure is counted and retried at the next period. */
  const reconcileWith = async (all: readonly Lease[]) => {
    try {
      await backend.resync(all);
      status.peersProgrammed = all.length;
    } catch (err) {
      metrics.programmingErrors.inc();
      log.warn('reconciling peers failed, retrying at the next period', { reason: errorMessage(err) });
    }
  };
  const resync = () => (watch ? watch.reconcile(reconcileWith) : Promise.resolve());

  const onBatch = async (batch: LeaseBatch) => {
    const perPeer = batch.length <= PER_PEER_BATCH && peerLines.take(batch.length);
    const detail = perPeer ? log.info.bind(log) : log.debug.bind(log);
    for (const event of batch) detail(event.type === 'added' ? 'peer added' : 'peer removed', { subnet: event.lease.key, publicIP: event.lease.attrs.publicIP });
    if (!reconciled) {
      reconciled = true;
      // A first batch is all 'added': the whole set.
      const all = batch.filter((event) => event.type === 'added').map((event) => event.lease);
      log.info('peers listed', { peers: all.length });
      await reconcileWith(all);
      return;
    }
    if (!perPeer) changedSummary.add(batch, batch.length > PER_PEER_BATCH);
    try {
      await backend.apply(batch);
      status.peersProgrammed = watch?.peers().length ?? status.peersProgrammed;
    } catch (err) {
      metrics.programmingErrors.inc();
      log.warn('programming peers failed, reconciling', { reason: errorMessage(err) });
      // Queued behind this batch: awaiting it here would wait for ourselves (lease-manager's PeerDelivery).
      void resync();
    }
  };

  const onAdmission = (update: PeerUpdate) => {
    for (const { rejection } of update.rejected) metrics.rejections.inc({ reason: rejection.reason });
    // A rejected peer (only rejected ones can name this host's address) appeared, changed or went away.
    duplicates.checkPeers(watch ? watch.rejected().map((r) => r.lease) : update.rejected.map((r) => r.lease));
  };

  watch = deps.manager.watchPeers(
    { config: deps.config, own: deps.own, ownPublicIPs: [deps.attrs.publicIP, deps.attrs.publicIPv6] },
    { signal: deps.signal, initial: deps.listing, onAdmission, onBatch },
  );
  const peers = watch;
  try {
    await peers.synced;
    // No peers at all: nothing was delivered, but leftovers of a previous run still need removing.
    if (!reconciled) {
      reconciled = true;
      await resync();
    }
  } catch (err) {
    await peers[Symbol.asyncDispose]();
    throw err;
  }

  return {
    watch: peers,
    resync,
    async setOwn(own) {
      duplicates.setOwn(own);
      peers.setOwn(own);
      // In the queue: attach never runs alongside a batch; then the peer set decided afresh for the new lease.
      await peers.reconcile(async (all) => {
        await backend.attach(own);
        await reconcileWith(all);
      });
    },
    ownLeaseTakenOver: (own) => duplicates.takenOver(own),
    [Symbol.asyncDispose]: () => peers[Symbol.asyncDispose](),
  };
}

/**
 * The one place flanneld decides it has a duplicate public IP. Two signals: a peer lease naming this host's
 * address (rejected by admission, never programmed), and a write to this host's own key by another host (flannel
 * reuses a lease by PublicIP, so that host took this one's lease). The peer signal ends when no such lease is
 * left; the takeover ends with the next lease this host gets.
 */
class DuplicatePublicIPMonitor {
  #own: Lease;
  readonly #addresses: readonly (string | undefined)[];
  readonly #status: PeerStatus;
  readonly #log: Logger;
  /** Keys of the peer leases naming this host's address, as last reported. */
  #claimants = new Set<string>();
  #claim: string | undefined;
  #takeover: string | undefined;

  constructor(own: Lease, addresses: readonly (string | undefined)[], status: PeerStatus, log: Logger) {
    this.#own = own;
    this.#addresses = addresses;
    this.#status = status;
    this.#log = log;
  }

  /** Re-decides from the peer leases that may name this host's address. */
  checkPeers(candidates: readonly Lease[]): void {
    const claiming = leasesNamingAddresses(candidates, this.#addresses, this.#own.key);
    const now = new Set(claiming.map((lease) => lease.key));
    for (const lease of claiming) {
      if (this.#claimants.has(lease.key)) continue;
      this.#log.error("duplicate public IP: another lease claims this host's address", { subnet: lease.key, publicIP: this.#claimed(lease), fix: 'give each host its own --public-ip (or interface address)' });
    }
    for (const key of this.#claimants) if (!now.has(key)) this.#log.info('duplicate public IP resolved', { subnet: key });
    this.#claimants = now;
    const first = claiming[0];
    this.#claim = first && `duplicate public IP: lease ${first.key} also claims ${this.#claimed(first)}`;
    this.#publish();
  }

  /** Which of this host's addresses the lease names. */
  #claimed(lease: Lease): string | undefined {
    return publicAddressesOf(lease).find((address) => this.#addresses.includes(address)) ?? this.#addresses[0];
  }

  takenOver(own: Lease): void {
    this.#takeover = `duplicate public IP: another host took over lease ${own.key}`;
    this.#publish();
  }

  /** A lease acquired again is this host's: a takeover of the previous one is over. */
  setOwn(own: Lease): void {
    this.#own = own;
    this.#takeover = undefined;
    this.#publish();
  }

  #publish(): void {
    this.#status.conflict = this.#takeover ?? this.#claim;
  }
}

/** At most `lines` log lines per `periodMs`: `take(n)` says whether n more fit in the current period. */
function lineBudget(lines: number, periodMs: number): { take(n: number): boolean } {
  let periodStart = 0;
  let used = 0;
  return {
    take(n) {
      const now = Date.now();
      if (now - periodStart >= periodMs) {
        periodStart = now;
        used = 0;
      }
      if (used + n > lines) return false;
      used += n;
      return true;
    },
  };
}

/** Totals of peer changes logged at most once per `periodMs` (at once when `now` is asked, e.g. a large batch). */
function summaryEvery(periodMs: number, write: (added: number, removed: number) => void): { add(batch: LeaseBatch, now: boolean): void } {
  let last = 0;
  let added = 0;
  let removed = 0;
  return {
    add(batch, now) {
      for (const event of batch) event.type === 'added' ? added++ : removed++;
      const at = Date.now();
      if (!now && at - last < periodMs) return;
      last = at;
      write(added, removed);
      added = 0;
      removed = 0;
    },
  };
}

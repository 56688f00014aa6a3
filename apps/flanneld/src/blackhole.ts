/**
 * flannel's --ip-blackhole-route (flannel-compat.md §6.3): a blackhole route for this host's own subnet (IPv4 and
 * IPv6), so a packet to an address of the subnet that no container holds is dropped here instead of following the
 * default route out of the host. Checked every --iptables-resync seconds, as flannel does. Unlike flannel, a
 * blackhole route for the own subnet is removed when the flag is not given (a previous run's leftover would keep
 * dropping traffic nobody asked to drop), and the old subnet's when the lease changes. Without the flag that
 * leftover check runs at start-up and on a lease change only: nothing but an operator adds one later, and an idle
 * flanneld should not fork `ip` every few seconds to look for it.
 */
import { errorMessage, type HostChange, type HostNetwork, type Lease, type Logger } from '@flannel-ts/core';

export interface BlackholeRoutes {
  /** Makes the kernel match `wanted` for `lease`'s subnets; `previous` is a lease this host held before. */
  sync(lease: Lease, previous?: Lease): Promise<void>;
  /** The periodic check: `sync` when the flag is given, nothing otherwise. */
  repair(lease: Lease): Promise<void>;
}

const subnetsOf = (lease: Lease): string[] => [lease.subnet, lease.ipv6Subnet].flatMap((subnet) => (subnet ? [subnet.toString()] : []));

export function createBlackholeRoutes(host: Pick<HostNetwork, 'apply' | 'routes'>, wanted: boolean, log: Logger): BlackholeRoutes {
  const routes: BlackholeRoutes = {
    async sync(lease, previous) {
      const own = subnetsOf(lease);
      const stale = previous ? subnetsOf(previous).filter((subnet) => !own.includes(subnet)) : [];
      // Only the families this host has subnets in.
      const families = ([4, 6] as const).filter((family) => [...own, ...stale].some((subnet) => subnet.includes(':') === (family === 6)));
      const present = new Set(
        // Only the blackhole routes: reading the whole table would cost more with every peer route in it.
        (await Promise.all(families.map((family) => host.routes({ family, type: 'blackhole' }))))
          .flat()
          .filter((route) => route.type === 'blackhole')
          .map((route) => route.dst),
      );
      const changes: HostChange[] = [];
      for (const dst of own) {
        if (wanted && !present.has(dst)) changes.push({ kind: 'route', action: 'replace', type: 'blackhole', dst });
        if (!wanted && present.has(dst)) changes.push({ kind: 'route', action: 'delete', type: 'blackhole', dst });
      }
      for (const dst of stale) if (present.has(dst)) changes.push({ kind: 'route', action: 'delete', type: 'blackhole', dst });
      if (changes.length === 0) return;
      try {
        await host.apply(changes);
      } catch (err) {
        log.error('blackhole route update failed', { reason: errorMessage(err) });
        return;
      }
      for (const change of changes) {
        if (change.kind !== 'route') continue;
        if (change.action === 'replace') log.info('blackhole route in place', { dst: change.dst });
        else log.info(wanted ? 'removed the blackhole route of the previous subnet' : 'removed a blackhole route for the own subnet (--ip-blackhole-route not given)', { dst: change.dst });
      }
    },
    repair: (lease) => (wanted ? routes.sync(lease) : Promise.resolve()),
  };
  return routes;
}

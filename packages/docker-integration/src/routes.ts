/**
 * mk-docker-opts' last check: "Your routing table already contains the subnet". If a route through a gateway
 * already leads to this host's flannel subnet, or to part of it, traffic for Docker's containers would leave
 * through that gateway instead of reaching docker0: typically a stale host-gw/vxlan route from when another host
 * held the subnet, or a static route. The script greps `ip route show` for the text `a.b.c.(d-1)/len` (which
 * also matches `110.1.74.0/24` and misses more specific routes); this compares networks.
 *
 * Routes that contain the subnet (the default route, the flannel network's /16) are fine: docker0's connected
 * route is more specific and wins. Routes without a gateway (docker0's own, flannel0's) are not conflicts either.
 */
import { IpNet } from '@flannel-ts/core';
import { DockerSetupError } from './errors.js';

/** A route as `ip -j route show` prints it (fields we read). */
export interface RouteInfo {
  readonly dst: string;
  readonly gateway?: string | undefined;
  readonly dev?: string | undefined;
}

export function findConflictingRoutes(subnet: IpNet, routes: readonly RouteInfo[]): RouteInfo[] {
  const own = subnet.masked();
  return routes.filter((route) => {
    if (route.gateway === undefined || route.dst === 'default') return false;
    const dst = IpNet.parse(route.dst.includes('/') ? route.dst : `${route.dst}/${own.family === 4 ? 32 : 128}`, own.family);
    return dst !== undefined && own.contains(dst);
  });
}

export function formatRoute(route: RouteInfo): string {
  return `${route.dst} via ${route.gateway}${route.dev ? ` dev ${route.dev}` : ''}`;
}

/** Throws ROUTE_CONFLICT naming the routes and how to remove them. */
export function assertNoConflictingRoutes(subnet: IpNet, routes: readonly RouteInfo[]): void {
  const conflicts = findConflictingRoutes(subnet, routes);
  if (conflicts.length === 0) return;
  const list = conflicts.map(formatRoute).join('; ');
  const fix = conflicts.map((r) => `ip route del ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}`).join(' && ');
  throw new DockerSetupError(
    'ROUTE_CONFLICT',
    `your routing table already contains the subnet ${subnet.masked()} (${list}): containers on docker0 would be unreachable. Another host may hold this subnet, or a stale route was left behind; remove it (${fix}) and run again`,
  );
}

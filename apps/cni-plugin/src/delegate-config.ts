/**
 * The delegate's network config, from the plugin's config and subnet.env, with flannel-io/cni-plugin's merge rules:
 *
 * - `delegate` is the base; `name` is the network's; `type` defaults to `bridge`; `ipMasq` defaults to
 *   !FLANNEL_IPMASQ (flanneld masquerades already when it is true); `mtu` defaults to FLANNEL_MTU; for `bridge`,
 *   `isGateway` defaults to true; `cniVersion` is the config's when it has one; `runtimeConfig` is passed on.
 * - `ipam` is the input `ipam` (other fields kept) with `type` defaulting to `host-local`, `ranges` set to one range
 *   per family holding the host's subnet, and `routes` = the input routes plus one to each flannel network.
 *
 * One difference: the route to a flannel network carries its gateway (the subnet's first address, the one
 * host-local gives the bridge). The delegate installs the same route either way, but the bridge plugin's CHECK
 * looks routes up by destination *and* gateway, so without it CHECK fails on a correctly set-up container.
 *
 * Keys come out sorted, as Go's json.Marshal writes a map, so the saved file reads like flannel's.
 */
import { IpNet, parseIP } from '@flannel-ts/core';
import { CNI_CODE, CniError } from './cni-error.js';
import type { FlannelSubnetEnv } from './flannel-env.js';
import { isJsonObject, type FlannelNetConf, type JsonObject } from './net-conf.js';

export function buildDelegateConfig(conf: FlannelNetConf, env: FlannelSubnetEnv): JsonObject {
  const delegate: JsonObject = { ...conf.delegate };
  if (conf.runtimeConfig !== undefined) delegate['runtimeConfig'] = conf.runtimeConfig;
  delegate['name'] = conf.name;
  if (!('type' in delegate)) delegate['type'] = 'bridge';
  if (!('ipMasq' in delegate)) delegate['ipMasq'] = !env.ipMasq;
  if (!('mtu' in delegate)) delegate['mtu'] = env.mtu;
  if (delegate['type'] === 'bridge' && !('isGateway' in delegate)) delegate['isGateway'] = true;
  if (conf.cniVersion !== '') delegate['cniVersion'] = conf.cniVersion;
  delegate['ipam'] = buildDelegateIpam(conf.ipam, env);
  return sortKeys(delegate) as JsonObject;
}

export function buildDelegateIpam(input: JsonObject | undefined, env: FlannelSubnetEnv): JsonObject {
  const ipam: JsonObject = { ...input };
  if (!('type' in ipam)) ipam['type'] = 'host-local';
  const ranges: JsonObject[][] = [];
  if (env.subnet) ranges.push([{ subnet: env.subnet.toString() }]);
  if (env.ipv6Subnet) ranges.push([{ subnet: env.ipv6Subnet.toString() }]);
  ipam['ranges'] = ranges;
  const routes = inputRoutes(input?.['routes']);
  for (const [networks, subnet] of [[env.networks, env.subnet], [env.ipv6Networks, env.ipv6Subnet]] as const) {
    for (const network of networks) routes.push(subnet ? { dst: network.toString(), gw: gatewayOf(subnet) } : { dst: network.toString() });
  }
  ipam['routes'] = routes;
  return ipam;
}

/** host-local's default gateway for a range: its first address. */
function gatewayOf(subnet: IpNet): string {
  return subnet.addressText(1n);
}

/** The input `ipam.routes`, checked as flannel's types.Route decoding would (dst a CIDR, gw an address). */
function inputRoutes(value: unknown): JsonObject[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new CniError(CNI_CODE.INVALID_CONFIG, `failed to parse ipam.routes: must be a list of {"dst": CIDR, "gw": address}, got ${JSON.stringify(value)}`);
  return value.map((route: unknown, i) => {
    const dst = isJsonObject(route) ? route['dst'] : undefined;
    if (!isJsonObject(route) || typeof dst !== 'string' || IpNet.parse(dst) === undefined) {
      throw new CniError(CNI_CODE.INVALID_CONFIG, `failed to parse ipam.routes[${i}]: "dst" must be a CIDR such as "10.96.0.0/12", got ${JSON.stringify(route)}`);
    }
    const gw = route['gw'];
    if (gw !== undefined && (typeof gw !== 'string' || parseIP(gw) === undefined)) {
      throw new CniError(CNI_CODE.INVALID_CONFIG, `failed to parse ipam.routes[${i}]: "gw" must be an IP address, got ${JSON.stringify(gw)}`);
    }
    return { ...route };
  });
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys(value[key])]));
}

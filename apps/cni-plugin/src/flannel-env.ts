/**
 * What the plugin takes from subnet.env, read through @flannel-ts/subnet-env's (godotenv-compatible) reader.
 *
 * As flannel-io/cni-plugin: FLANNEL_NETWORK and FLANNEL_IPV6_NETWORK may hold a comma-separated list (duplicates
 * dropped); at least one network, one subnet, FLANNEL_MTU and FLANNEL_IPMASQ must be there, and a missing set is
 * reported with flannel's message ("... is missing FLANNEL_NETWORK, ..."). Unlike flannel, FLANNEL_IPMASQ must be
 * `true` or `false` (flannel reads anything else as false, silently).
 */
import { IpNet, type IpFamily } from '@flannel-ts/core';
import { parseSubnetEnv } from '@flannel-ts/subnet-env';
import { readFile } from 'node:fs/promises';
import { CNI_CODE, CniError } from './cni-error.js';

export interface FlannelSubnetEnv {
  readonly networks: readonly IpNet[];
  readonly subnet: IpNet | undefined;
  readonly ipv6Networks: readonly IpNet[];
  readonly ipv6Subnet: IpNet | undefined;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

/** Decodes subnet.env text; throws CniError 6 naming the variable at fault. */
export function decodeFlannelSubnetEnv(text: string, path: string): FlannelSubnetEnv {
  const file = parseSubnetEnv(text);
  const vars = file.variables;
  const bad = (name: string, expected: string): never => {
    throw new CniError(CNI_CODE.DECODE_FAILED, `${name} in ${path} is not ${expected}: "${vars[name]}"`, 'flanneld writes this file; restart flanneld to rewrite it, or fix the value by hand');
  };
  const networks = (name: string, family: IpFamily): IpNet[] => {
    const value = vars[name];
    if (value === undefined) return [];
    const out: IpNet[] = [];
    for (const entry of value.split(',')) {
      const net = IpNet.parse(entry.trim(), family)?.masked() ?? bad(name, `a list of IPv${family} CIDRs`);
      if (!out.some((known) => known.equals(net))) out.push(net);
    }
    return out;
  };
  const subnet = (name: string, parsed: IpNet | undefined, family: IpFamily) =>
    vars[name] === undefined ? undefined : (parsed ?? bad(name, `one IPv${family} CIDR`));

  const env = {
    networks: networks('FLANNEL_NETWORK', 4),
    subnet: subnet('FLANNEL_SUBNET', file.subnet, 4),
    ipv6Networks: networks('FLANNEL_IPV6_NETWORK', 6),
    ipv6Subnet: subnet('FLANNEL_IPV6_SUBNET', file.ipv6Subnet, 6),
    mtu: vars['FLANNEL_MTU'] === undefined ? undefined : file.mtu !== undefined && file.mtu > 0 ? file.mtu : bad('FLANNEL_MTU', 'a positive whole number'),
    ipMasq: vars['FLANNEL_IPMASQ'] === undefined ? undefined : (file.ipMasq ?? bad('FLANNEL_IPMASQ', '"true" or "false"')),
  };

  const missing: string[] = [];
  if (env.networks.length === 0 && env.ipv6Networks.length === 0) missing.push('FLANNEL_NETWORK', 'FLANNEL_IPV6_NETWORK');
  if (env.subnet === undefined && env.ipv6Subnet === undefined) missing.push('FLANNEL_SUBNET', 'FLANNEL_IPV6_SUBNET');
  if (env.mtu === undefined) missing.push('FLANNEL_MTU');
  if (env.ipMasq === undefined) missing.push('FLANNEL_IPMASQ');
  if (env.mtu === undefined || env.ipMasq === undefined || missing.length > 0) {
    throw new CniError(CNI_CODE.DECODE_FAILED, `${path} is missing ${missing.join(', ')}`, 'is this the subnet.env flanneld writes (its --subnet-file)? flanneld writes all of these');
  }
  return { ...env, mtu: env.mtu, ipMasq: env.ipMasq };
}

export interface WaitOptions {
  readonly waitSeconds: number;
  /** Told once, when the file is not there yet. */
  readonly say: (line: string) => void;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly pollMs?: number;
}

/**
 * Reads subnet.env, waiting up to `waitSeconds` for it to appear (flanneld writes it once it holds a lease; a node
 * often starts containers while flanneld is still starting). Missing after the wait: CniError 11 (try again later).
 */
export async function readFlannelSubnetEnv(path: string, options: WaitOptions): Promise<FlannelSubnetEnv> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = options.pollMs ?? 100;
  const deadline = Date.now() + options.waitSeconds * 1000;
  let told = false;
  for (;;) {
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new CniError(CNI_CODE.IO_FAILURE, `cannot read ${path}: ${(err as Error).message}`, 'check the file is readable by the container runtime (it runs the plugin as root)');
    }
    if (text !== undefined) return decodeFlannelSubnetEnv(text, path);
    if (Date.now() >= deadline) {
      throw new CniError(
        CNI_CODE.TRY_AGAIN_LATER,
        `${path} does not exist${options.waitSeconds > 0 ? ` after waiting ${options.waitSeconds}s` : ''}: is flanneld running? it writes this file once it holds a lease`,
        'start flanneld, or point "subnetFile" in the network config at its --subnet-file',
      );
    }
    if (!told) {
      options.say(`flannel: ${path} does not exist yet; waiting up to ${options.waitSeconds}s for flanneld to write it`);
      told = true;
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

/**
 * Docker's network options from a subnet.env, as flannel's `dist/mk-docker-opts.sh` makes them
 * (flannel-compat.md §8):
 *
 *   FLANNEL_SUBNET=10.1.74.1/24   ->  DOCKER_OPT_BIP="--bip=10.1.74.1/24"
 *   FLANNEL_IPMASQ=false          ->  DOCKER_OPT_IPMASQ="--ip-masq=true"   (inverted: when flannel masquerades,
 *   FLANNEL_MTU=1472              ->  DOCKER_OPT_MTU="--mtu=1472"           Docker must not, and the reverse)
 *                                     DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"
 *
 * The output file is byte-compatible with the script's (same variables, order, quoting, leading space of the
 * combined value, preset combined value kept). Shell quirks fixed (flannel quirk 15, flannel-compat.md §12): the
 * env file is parsed, not sourced, so a relative path works and nothing in it runs; `DOCKER_OPT_*` variables of
 * the caller's environment are not swept in; values are checked (the script passes `--bip=garbage` through); a
 * bad FLANNEL_IPMASQ names the file and the fix; a missing env file is an error, not `DOCKER_OPTS=""`.
 */
import { IpNet } from '@flannel-ts/core';
import { DockerSetupError } from './errors.js';
import { isVariableName } from './options.js';


/** The three settings Docker takes from flannel; a field is absent when subnet.env does not give it. */
export interface DockerNetworkOptions {
  /** `--bip`: FLANNEL_SUBNET as written (the gateway address with the prefix length, `10.1.74.1/24`). */
  readonly bip?: string | undefined;
  readonly mtu?: number | undefined;
  /** `--ip-masq`: the inverse of FLANNEL_IPMASQ; absent when FLANNEL_IPMASQ is absent or `-m` was given. */
  readonly ipMasq?: boolean | undefined;
}

export interface DockerOptionsRequest {
  /** false is mk-docker-opts' `-m`: leave ip-masq out. */
  readonly ipMasq: boolean;
  /** Named in error messages (the subnet.env path). */
  readonly source?: string;
}

/** Builds the options from subnet.env's variables (raw text, as parsed by `parseDotenv`). Throws on bad values. */
export function dockerOptionsFromSubnetEnv(variables: Readonly<Record<string, string>>, request: DockerOptionsRequest): DockerNetworkOptions {
  const where = request.source ? ` in ${request.source}` : '';
  const subnetText = nonEmpty(variables['FLANNEL_SUBNET']);
  const mtuText = nonEmpty(variables['FLANNEL_MTU']);
  const masqText = nonEmpty(variables['FLANNEL_IPMASQ']);

  let bip: string | undefined;
  if (subnetText !== undefined) {
    const net = IpNet.parse(subnetText, 4);
    if (!net || net.prefixLength > 30 || net.isMasked() || net.address === net.last) {
      throw new DockerSetupError(
        'SUBNET_ENV_INVALID',
        `FLANNEL_SUBNET${where} is "${subnetText}": Docker's --bip needs one IPv4 gateway address with its prefix length, such as 10.1.74.1/24 (flanneld writes it that way; fix or delete the file and restart flanneld)`,
      );
    }
    bip = subnetText;
  }

  let mtu: number | undefined;
  if (mtuText !== undefined) {
    mtu = /^\d{1,5}$/.test(mtuText) ? Number(mtuText) : NaN;
    if (!(mtu >= 68 && mtu <= 65535)) {
      throw new DockerSetupError('SUBNET_ENV_INVALID', `FLANNEL_MTU${where} is "${mtuText}": it must be a whole number from 68 to 65535 (flanneld writes the backend's MTU)`);
    }
  }

  let ipMasq: boolean | undefined;
  if (masqText !== undefined && request.ipMasq) {
    if (masqText !== 'true' && masqText !== 'false') {
      throw new DockerSetupError(
        'SUBNET_ENV_INVALID',
        `invalid value of FLANNEL_IPMASQ${where}: "${masqText}": it must be true or false (flanneld writes its --ip-masq there); fix the file, or leave ip-masq out with -m`,
      );
    }
    ipMasq = masqText === 'false';
  }
  return { bip, mtu, ipMasq };
}

/** The dockerd flags, in mk-docker-opts' order (alphabetical by variable: BIP, IPMASQ, MTU). */
export function dockerFlags(options: DockerNetworkOptions): string[] {
  return dockerOptVariables(options).map(([, value]) => value);
}

function dockerOptVariables(options: DockerNetworkOptions): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (options.bip !== undefined) out.push(['DOCKER_OPT_BIP', `--bip=${options.bip}`]);
  if (options.ipMasq !== undefined) out.push(['DOCKER_OPT_IPMASQ', `--ip-masq=${options.ipMasq}`]);
  if (options.mtu !== undefined) out.push(['DOCKER_OPT_MTU', `--mtu=${options.mtu}`]);
  return out;
}

export interface DockerOptsFileFormat {
  /** `-i`: write `DOCKER_OPT_BIP`, `DOCKER_OPT_IPMASQ`, `DOCKER_OPT_MTU`. */
  readonly individual: boolean;
  /** `-c`: write the combined variable. (Neither `-i` nor `-c` given means both, as in the script.) */
  readonly combined: boolean;
  /** `-k`: name of the combined variable (default DOCKER_OPTS). */
  readonly key: string;
  /** The caller's current value of the combined variable; the script starts the combined value with it. */
  readonly preset?: string | undefined;
}

/** The env file text, line for line what mk-docker-opts.sh writes (readable by sh's `.` and systemd's EnvironmentFile). */
export function formatDockerOptsFile(options: DockerNetworkOptions, format: DockerOptsFileFormat): string {
  if (!isVariableName(format.key)) {
    throw new DockerSetupError('SUBNET_ENV_INVALID', `"${format.key}" cannot be the combined variable's name: use letters, digits and _ (for example DOCKER_OPTS)`);
  }
  const lines: string[] = [];
  let combined = format.preset ? `${format.preset} ` : '';
  for (const [name, value] of dockerOptVariables(options)) {
    if (format.individual) lines.push(`${name}="${value}"`);
    combined += ` ${value}`;
  }
  if (format.combined) lines.push(`${format.key}="${quoteInner(combined)}"`);
  return lines.map((line) => `${line}\n`).join('');
}

/** Escapes what would end or expand a double-quoted value (only a preset can contain such characters). */
function quoteInner(value: string): string {
  return value.replace(/[\\"$`]/g, (c) => `\\${c}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * What doctor reads from the host it runs on, beyond HostNetwork's tables (routes, neighbours, FDB): every link with
 * its addresses and the firewall (both read through @flannel-ts/host-net, the one way to the kernel), ICMP probes
 * (`ping`, through host-net's command runner), flanneld's health endpoint, and the flanneld process itself (/proc).
 * Nothing here throws for an answer it does not like: callers turn answers into findings.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { request } from 'node:http';
import { errorMessage, type HostNetwork, type IpFamily } from '@flannel-ts/core';
import { COMMAND_NOT_FOUND, createProcessRunner, readIptablesRules, type CommandRunner, type IptablesDump } from '@flannel-ts/host-net';

export type { IptablesDump };

export interface LinkAddress {
  readonly family: IpFamily;
  readonly address: string;
  readonly prefixLength: number;
}

export interface HostLink {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  /** Administratively up. */
  readonly up: boolean;
  /** Carrier present (LOWER_UP), or a device without carrier notion. */
  readonly lowerUp: boolean;
  readonly kind: string | undefined;
  readonly mac: string | undefined;
  readonly addresses: readonly LinkAddress[];
  readonly vxlan?: { readonly vni: number; readonly local: string | undefined; readonly dev: string | undefined; readonly port: number } | undefined;
}

/** Every link of this network namespace with its addresses (host.links: one `ip -j -d addr show`). */
export async function readLinks(host: Pick<HostNetwork, 'links'>): Promise<HostLink[]> {
  return (await host.links()).map(
    (link): HostLink => ({
      name: link.name,
      index: link.index,
      mtu: link.mtu,
      up: link.up,
      lowerUp: link.lowerUp,
      kind: link.kind,
      mac: link.address,
      addresses: link.addresses.map((a) => ({ family: a.family, address: a.address, prefixLength: a.prefixLength })),
      vxlan: link.vxlan ? { vni: link.vxlan.vni, local: link.vxlan.local, dev: link.vxlan.dev, port: link.vxlan.port } : undefined,
    }),
  );
}

export interface PingResult {
  readonly answered: boolean;
  /** The program could not run (not installed). */
  readonly missing: boolean;
  readonly rttMs: number | undefined;
  /** ping's own words when it did not get an answer (e.g. `Message too long`), else empty. */
  readonly detail: string;
}

/** One ICMP echo with a deadline; `size` and `dontFragment` test the path MTU. */
export async function ping(
  address: string,
  options: { readonly timeoutMs: number; readonly size?: number; readonly dontFragment?: boolean },
  runner: CommandRunner = createProcessRunner(),
): Promise<PingResult> {
  const family = address.includes(':') ? '-6' : '-4';
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const args = [family, '-n', '-c', '1', '-W', String(seconds)];
  if (options.size !== undefined) args.push('-s', String(options.size));
  if (options.dontFragment) args.push('-M', 'do');
  const result = await runner.run('ping', [...args, address], { timeoutMs: options.timeoutMs + 2000 });
  const rtt = /time[=<]([\d.]+) ?ms/.exec(result.stdout);
  const answered = result.code === 0;
  const detail = answered ? '' : (result.stderr.trim().split('\n').at(-1) ?? '') || 'no answer';
  return { answered, missing: result.code === COMMAND_NOT_FOUND, rttMs: rtt ? Number(rtt[1]) : undefined, detail };
}

export interface HttpAnswer {
  readonly status: number | undefined;
  readonly body: string;
  /** Why there was no answer (`ECONNREFUSED`, `timed out after 2 s`). */
  readonly error: string | undefined;
}

export function httpGet(url: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: HttpAnswer) => {
      if (!settled) resolve(answer);
      settled = true;
    };
    try {
      const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => done({ status: res.statusCode, body: body.trim(), error: undefined }));
        res.on('error', (err) => done({ status: res.statusCode, body: body.trim(), error: errorMessage(err) }));
      });
      req.on('timeout', () => {
        req.destroy();
        done({ status: undefined, body: '', error: `no answer within ${timeoutMs / 1000} s` });
      });
      req.on('error', (err: NodeJS.ErrnoException) => done({ status: undefined, body: '', error: err.code ?? errorMessage(err) }));
      req.end();
    } catch (err) {
      done({ status: undefined, body: '', error: errorMessage(err) });
    }
  });
}

export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** `node .../apps/flanneld/dist/main.js` (this repository's launcher) or a binary named flanneld (flannel's). */
export function isFlanneldCommand(argv: readonly string[]): boolean {
  const [first = '', second = ''] = withoutNodeOptions(argv);
  if (/(^|\/)flanneld$/.test(first)) return true;
  return /(^|\/)node$/.test(first) && (/(^|\/)flanneld$/.test(second) || /apps\/flanneld\/dist\/main\.js$/.test(second));
}

/** `node --max-semi-space-size=2 main.js --iface=eth0` as `node main.js --iface=eth0` (node's own options dropped). */
export function withoutNodeOptions(argv: readonly string[]): readonly string[] {
  const [first = ''] = argv;
  if (!/(^|\/)node$/.test(first)) return argv;
  let script = 1;
  while (script < argv.length && argv[script]!.startsWith('-')) script++;
  return [first, ...argv.slice(script)];
}

/**
 * flanneld processes of this network namespace (the lab runs one flanneld per namespace in one PID namespace, and
 * hosts run flanneld in the root namespace: either way the one that matters shares our network namespace).
 */
export async function findFlanneldProcesses(): Promise<ProcessInfo[]> {
  const own = await readlink('/proc/self/ns/net').catch(() => undefined);
  const found: ProcessInfo[] = [];
  const entries = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
      .map(async (name) => {
        try {
          const argv = withoutNodeOptions((await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1));
          if (!isFlanneldCommand(argv)) return;
          if (own !== undefined && (await readlink(`/proc/${name}/ns/net`)) !== own) return;
          const env: Record<string, string> = {};
          const environ = await readFile(`/proc/${name}/environ`, 'utf8').catch(() => '');
          for (const item of environ.split('\0')) {
            const eq = item.indexOf('=');
            if (eq > 0 && item.startsWith('FLANNELD_')) env[item.slice(0, eq)] = item.slice(eq + 1);
          }
          found.push({ pid: Number(name), argv, env });
        } catch {
          // The process ended while we looked, or is not ours to read.
        }
      }),
  );
  return found.sort((a, b) => a.pid - b.pid);
}

/** flanneld's own idea of a flag: `--name=v`, `-name=v`, `--name v`, `-name v`; FLANNELD_<NAME> when not given. */
export function flanneldFlag(proc: ProcessInfo, flag: string): string | undefined {
  let value: string | undefined;
  const args = proc.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--?([A-Za-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match || match[1] !== flag) continue;
    if (match[2] !== undefined) value = match[2];
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) value = args[++i];
    else value = 'true';
  }
  return value ?? proc.env[`FLANNELD_${flag.toUpperCase().replace(/-/g, '_')}`];
}

/** Every value of a repeatable flag (`--iface a --iface b`). */
export function flanneldFlagAll(proc: ProcessInfo, flag: string): string[] {
  const values: string[] = [];
  const args = proc.argv.slice(1);
  for (let i = 0; i < args.length; i++) {
    const match = /^--?([A-Za-z0-9-]+)(?:=(.*))?$/s.exec(args[i]!);
    if (!match || match[1] !== flag) continue;
    if (match[2] !== undefined) values.push(match[2]);
    else if (args[i + 1] !== undefined) values.push(args[++i]!);
  }
  const fromEnv = proc.env[`FLANNELD_${flag.toUpperCase().replace(/-/g, '_')}`];
  return values.length > 0 ? values : fromEnv ? [fromEnv] : [];
}

/** The nat and filter rules of one family (`iptables -S`), read through host-net. */
export function readIptables(family: IpFamily): Promise<IptablesDump> {
  return readIptablesRules(family);
}

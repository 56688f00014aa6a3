/**
 * flannel's masquerade and forward rules (flannel-compat.md §6), in its two modes, each applied atomically:
 * iptables through one `iptables-restore --noflush` payload per family (declaring a chain flushes and refills it in
 * the same transaction), nftables through one `nft -f` script. The rules are flannel's, so `iptables -t nat -S`
 * lists exactly what flannel's e2e suite expects. Differences, all fixes: the nftables rules match the iptables ones
 * (`ip saddr != C ip daddr P`, and a masked mark test; quirk 10); the nftables mode does not need the iptables
 * binaries (quirk 19); the other mode's leftovers are removed from the right tables (quirk 9); old rules after a
 * network or subnet change vanish with the chain flush (flannel deletes them one by one).
 */
import { HostCommandError, type IpFamily, type IpNet, type Logger } from '@flannel-ts/core';
import { COMMAND_NOT_FOUND, createProcessRunner, type CommandRunner } from './command-runner.js';

export interface FirewallFamily {
  readonly family: IpFamily;
  /** The flannel network (C). */
  readonly network: IpNet;
  /** This host's subnet (P). */
  readonly subnet: IpNet;
}

export interface FirewallPlan {
  readonly families: readonly FirewallFamily[];
  /** --ip-masq */
  readonly masquerade: boolean;
  /** --iptables-forward-rules */
  readonly forward: boolean;
  /** `--random-fully` / `fully-random`, unless --ip-masq-fully-random-disable */
  readonly randomFully: boolean;
}

export interface Firewall {
  readonly mode: 'iptables' | 'nftables';
  /** Installs every rule in one transaction per tool. */
  apply(): Promise<void>;
  /** What is missing or different from the plan; empty when the kernel matches. */
  check(): Promise<string[]>;
  /** Removes what the other mode (or an older run of it) left behind. */
  removeOtherMode(): Promise<void>;
}

const MASQ_COMMENT = '-m comment --comment "flanneld masq"';
const FWD_COMMENT = '-m comment --comment "flanneld forward"';
const multicast = (family: IpFamily) => (family === 4 ? '224.0.0.0/4' : 'ff00::/8');

/** The nat rules of FLANNEL-POSTRTG, in `iptables -S` form. */
export function masqueradeRules(f: FirewallFamily, randomFully: boolean): string[] {
  const C = f.network.toString();
  const P = f.subnet.toString();
  const masq = `-j MASQUERADE${randomFully ? ' --random-fully' : ''}`;
  return [
    `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${MASQ_COMMENT} -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${P} -d ${C} ${MASQ_COMMENT} -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${C} -d ${P} ${MASQ_COMMENT} -j RETURN`,
    `-A FLANNEL-POSTRTG ! -s ${C} -d ${P} ${MASQ_COMMENT} -j RETURN`,
    `-A FLANNEL-POSTRTG -s ${C} ! -d ${multicast(f.family)} ${MASQ_COMMENT} ${masq}`,
    `-A FLANNEL-POSTRTG ! -s ${C} -d ${C} ${MASQ_COMMENT} ${masq}`,
  ];
}

export function forwardRules(f: FirewallFamily): string[] {
  const C = f.network.toString();
  return [`-A FLANNEL-FWD -s ${C} ${FWD_COMMENT} -j ACCEPT`, `-A FLANNEL-FWD -d ${C} ${FWD_COMMENT} -j ACCEPT`];
}

const MASQ_JUMP = `-A POSTROUTING ${MASQ_COMMENT} -j FLANNEL-POSTRTG`;
const FWD_JUMP = `-A FORWARD ${FWD_COMMENT} -j FLANNEL-FWD`;

/** The iptables-restore payload for one family; `jumps` says which jump rules are already in place. */
export function iptablesRestorePayload(f: FirewallFamily, plan: FirewallPlan, jumps: { masq: boolean; fwd: boolean }): string {
  let out = '';
  if (plan.masquerade) {
    out += `*nat\n:FLANNEL-POSTRTG - [0:0]\n${jumps.masq ? '' : `${MASQ_JUMP}\n`}${masqueradeRules(f, plan.randomFully).join('\n')}\nCOMMIT\n`;
  }
  if (plan.forward) {
    out += `*filter\n:FLANNEL-FWD - [0:0]\n${jumps.fwd ? '' : `${FWD_JUMP}\n`}${forwardRules(f).join('\n')}\nCOMMIT\n`;
  }
  return out;
}

/** One nft script (one transaction) for every family. */
export function nftablesScript(plan: FirewallPlan): string {
  const lines: string[] = [];
  for (const f of plan.families) {
    const table = f.family === 4 ? 'ip flannel-ipv4' : 'ip6 flannel-ipv6';
    const name = f.family === 4 ? 'flannel-ipv4' : 'flannel-ipv6';
    const ip = f.family === 4 ? 'ip' : 'ip6';
    const C = f.network.toString();
    const P = f.subnet.toString();
    lines.push(`add table ${table} { comment "rules for ${name}"; }`);
    if (plan.forward) {
      lines.push(
        `add chain ${table} forward { comment "chain to accept flannel traffic"; type filter hook forward priority filter; policy accept; }`,
        `flush chain ${table} forward`,
        `add rule ${table} forward ${ip} saddr ${C} accept`,
        `add rule ${table} forward ${ip} daddr ${C} accept`,
      );
    }
    if (plan.masquerade) {
      const masq = `masquerade${plan.randomFully ? ' fully-random' : ''}`;
      lines.push(
        `add chain ${table} postrtg { comment "chain to manage traffic masquerading by flannel"; type nat hook postrouting priority srcnat; }`,
        `flush chain ${table} postrtg`,
        `add rule ${table} postrtg meta mark & 0x4000 == 0x4000 return`,
        `add rule ${table} postrtg ${ip} saddr ${P} ${ip} daddr ${C} return`,
        `add rule ${table} postrtg ${ip} saddr ${C} ${ip} daddr ${P} return`,
        `add rule ${table} postrtg ${ip} saddr != ${C} ${ip} daddr ${P} return`,
        `add rule ${table} postrtg ${ip} saddr ${C} ${ip} daddr != ${multicast(f.family)} ${masq}`,
        `add rule ${table} postrtg ${ip} saddr != ${C} ${ip} daddr ${C} ${masq}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

async function must(runner: CommandRunner, command: string, args: readonly string[], input?: string): Promise<string> {
  const result = await runner.run(command, args, input === undefined ? {} : { input });
  if (result.code !== 0) {
    throw new HostCommandError(`${command} ${args.join(' ')}`, result.code, result.stderr, `${command} ${args.join(' ')} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  }
  return result.stdout;
}

const iptablesFor = (family: IpFamily) => (family === 4 ? 'iptables' : 'ip6tables');

/**
 * Every chain of one table with its rules (`-A` lines, the form `iptables -S` prints too), read with one
 * `iptables-save -t TABLE`: a check every --iptables-resync seconds then costs one process per table, not one per
 * chain. A table that does not exist reads as no chains.
 */
async function readTable(runner: CommandRunner, family: IpFamily, table: 'nat' | 'filter'): Promise<Map<string, string[]>> {
  const chains = new Map<string, string[]>();
  const result = await runner.run(`${iptablesFor(family)}-save`, ['-t', table]);
  if (result.code !== 0) return chains;
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0]!;
      if (!chains.has(chain)) chains.set(chain, []);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      const rules = chains.get(chain) ?? [];
      rules.push(line);
      chains.set(chain, rules);
    }
  }
  return chains;
}

/** `runner` runs every command; a shell runner (createShellRunner) makes the periodic check fork no process of ours. */
export function createIptablesFirewall(plan: FirewallPlan, log: Logger, runner: CommandRunner = createProcessRunner()): Firewall {
  // Only the tables the plan writes to are read.
  const readPlanTables = async (family: IpFamily) => ({
    nat: plan.masquerade ? await readTable(runner, family, 'nat') : new Map<string, string[]>(),
    filter: plan.forward ? await readTable(runner, family, 'filter') : new Map<string, string[]>(),
  });
  const jumpsIn = (tables: { nat: Map<string, string[]>; filter: Map<string, string[]> }) => ({
    masq: tables.nat.get('POSTROUTING')?.includes(MASQ_JUMP) ?? false,
    fwd: tables.filter.get('FORWARD')?.includes(FWD_JUMP) ?? false,
  });
  return {
    mode: 'iptables',
    async apply() {
      for (const f of plan.families) {
        const payload = iptablesRestorePayload(f, plan, jumpsIn(await readPlanTables(f.family)));
        if (payload) await must(runner, `${iptablesFor(f.family)}-restore`, ['--noflush', '--wait'], payload);
      }
    },
    async check() {
      const problems: string[] = [];
      for (const f of plan.families) {
        const tool = iptablesFor(f.family);
        const tables = await readPlanTables(f.family);
        const jumps = jumpsIn(tables);
        if (plan.masquerade) {
          if (!jumps.masq) problems.push(`${tool} nat POSTROUTING: jump to FLANNEL-POSTRTG missing`);
          const rules = tables.nat.get('FLANNEL-POSTRTG');
          const wanted = masqueradeRules(f, plan.randomFully);
          if (!rules) problems.push(`${tool} nat FLANNEL-POSTRTG: chain missing`);
          else if (rules.join('\n') !== wanted.join('\n')) problems.push(`${tool} nat FLANNEL-POSTRTG: ${wanted.filter((r) => !rules.includes(r)).length} rule(s) missing, ${rules.filter((r) => !wanted.includes(r)).length} unexpected`);
        }
        if (plan.forward) {
          if (!jumps.fwd) problems.push(`${tool} filter FORWARD: jump to FLANNEL-FWD missing`);
          const rules = tables.filter.get('FLANNEL-FWD');
          if (!rules || rules.join('\n') !== forwardRules(f).join('\n')) problems.push(`${tool} filter FLANNEL-FWD: rules missing or changed`);
        }
      }
      return problems;
    },
    async removeOtherMode() {
      // One `nft list tables` instead of a failing delete per table in the usual case (nothing left behind).
      const listed = await runner.run('nft', ['list', 'tables']);
      const present = listed.code === 0 ? listed.stdout.split('\n').map((line) => line.replace(/^table /, '').trim()) : ['ip flannel-ipv4', 'ip6 flannel-ipv6'];
      for (const table of ['ip flannel-ipv4', 'ip6 flannel-ipv6'].filter((t) => present.includes(t))) {
        const result = await runner.run('nft', ['delete', 'table', ...table.split(' ')]);
        if (result.code === 0) log.info('removed nftables table left by the nftables mode', { table });
      }
    },
  };
}

/** `runner` runs every command; a shell runner (createShellRunner) makes the periodic check fork no process of ours. */
export function createNftablesFirewall(plan: FirewallPlan, log: Logger, runner: CommandRunner = createProcessRunner()): Firewall {
  return {
    mode: 'nftables',
    async apply() {
      if (plan.families.length === 0 || (!plan.masquerade && !plan.forward)) return;
      await must(runner, 'nft', ['-f', '-'], nftablesScript(plan));
    },
    async check() {
      const problems: string[] = [];
      for (const f of plan.families) {
        const table = f.family === 4 ? ['ip', 'flannel-ipv4'] : ['ip6', 'flannel-ipv6'];
        const result = await runner.run('nft', ['list', 'table', ...table]);
        if (result.code !== 0) {
          problems.push(`nft table ${table.join(' ')} missing`);
          continue;
        }
        const rules = result.stdout;
        const expectRules = (chain: string, count: number) => {
          const section = new RegExp(`chain ${chain} \\{([\\s\\S]*?)\\n\\t\\}`).exec(rules)?.[1] ?? '';
          const found = section.split('\n').filter((l) => /\b(accept|return|masquerade)\b/.test(l) && !l.includes('policy')).length;
          if (found !== count) problems.push(`nft ${table.join(' ')} chain ${chain}: ${found} of ${count} rules`);
        };
        if (plan.forward) expectRules('forward', 2);
        if (plan.masquerade) expectRules('postrtg', 6);
      }
      return problems;
    },
    async removeOtherMode() {
      // Without iptables binaries there is nothing to clean (fixes quirk 19: they are not required). One
      // iptables-save per table tells what is there, so nothing is deleted (and no process started) in vain.
      for (const family of [4, 6] as const) {
        const tool = iptablesFor(family);
        for (const [table, chain, jump] of [
          ['nat', 'FLANNEL-POSTRTG', MASQ_JUMP],
          ['filter', 'FLANNEL-FWD', FWD_JUMP],
        ] as const) {
          const chains = await readTable(runner, family, table);
          const hasJump = chains.get(table === 'nat' ? 'POSTROUTING' : 'FORWARD')?.includes(jump) ?? false;
          if (!hasJump && !chains.has(chain)) continue;
          const deleted = hasJump ? await runner.run(tool, ['-w', '-t', table, ...jump.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((t) => t.replace(/^"|"$/g, ''))]) : { code: 1 };
          await runner.run(tool, ['-w', '-t', table, '-F', chain]);
          const removed = await runner.run(tool, ['-w', '-t', table, '-X', chain]);
          if (deleted.code === 0 || removed.code === 0) log.info('removed iptables rules left by the iptables mode', { tool, table, chain });
        }
      }
    },
  };
}

/** go-iptables' HasRandomFully: iptables 1.6.2 or newer, read from `iptables --version` (`iptables v1.8.7 (nf_tables)`). */
export function versionHasRandomFully(versionText: string): boolean {
  const match = /v(\d+)\.(\d+)\.(\d+)/.exec(versionText);
  if (!match) return false;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  return major > 1 || (major === 1 && (minor > 6 || (minor === 6 && patch >= 2)));
}

/** Whether this host's iptables takes `--random-fully`; false when iptables is missing or says no version. */
export async function iptablesHasRandomFully(runner: CommandRunner = createProcessRunner()): Promise<boolean> {
  const result = await runner.run('iptables', ['--version']);
  return result.code === 0 && versionHasRandomFully(result.stdout);
}

/** Every rule of the nat and filter tables, as `iptables -S` lists them, for a report (flannelctl doctor). */
export interface IptablesDump {
  /** `iptables -t <table> -S` lines, or undefined when they could not be read. */
  readonly nat: string[] | undefined;
  readonly filter: string[] | undefined;
  /** Why the rules could not be read (binary missing, permission denied). */
  readonly error: string | undefined;
}

/** Reads the nat and filter rules of one family (`iptables -w 5 -t TABLE -S`); never throws. */
export async function readIptablesRules(family: IpFamily, runner: CommandRunner = createProcessRunner()): Promise<IptablesDump> {
  const binary = iptablesFor(family);
  const [nat, filter] = await Promise.all([runner.run(binary, ['-w', '5', '-t', 'nat', '-S'], { timeoutMs: 10_000 }), runner.run(binary, ['-w', '5', '-t', 'filter', '-S'], { timeoutMs: 10_000 })]);
  if (nat.code === COMMAND_NOT_FOUND) return { nat: undefined, filter: undefined, error: `${binary} is not installed` };
  const lines = (out: { code: number | null; stdout: string }) => (out.code === 0 ? out.stdout.split('\n').map((l) => l.trim()).filter(Boolean) : undefined);
  const error = nat.code !== 0 ? nat.stderr.trim() : filter.code !== 0 ? filter.stderr.trim() : undefined;
  return { nat: lines(nat), filter: lines(filter), error: error || undefined };
}

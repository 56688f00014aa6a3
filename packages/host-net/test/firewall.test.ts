import { describe, expect, it } from 'vitest';
import { IpNet } from '@flannel-ts/core';
import { createProcessRunner, type CommandRunner } from '../src/command-runner.js';
import { versionHasRandomFully } from '../src/firewall.js';
import { forwardRules, iptablesHasRandomFully, iptablesRestorePayload, masqueradeRules, nftablesScript, readIptablesRules, type FirewallPlan } from '../src/index.js';

const v4 = { family: 4 as const, network: IpNet.parse('10.244.0.0/16')!, subnet: IpNet.parse('10.244.1.0/24')! };
const v6 = { family: 6 as const, network: IpNet.parse('fc00:0:0:100::/56')!, subnet: IpNet.parse('fc00:0:0:101::/64')! };

describe('iptables rules', () => {
  it("are flannel's, in iptables -S form", () => {
    expect(masqueradeRules(v4, true)).toEqual([
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    ]);
    expect(forwardRules(v4)).toEqual([
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    ]);
  });

  it('use ff00::/8 for IPv6 and drop --random-fully when disabled', () => {
    const rules = masqueradeRules(v6, false);
    expect(rules[4]).toBe('-A FLANNEL-POSTRTG -s fc00:0:0:100::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE');
    expect(rules.join('\n')).not.toContain('random-fully');
  });

  it('come as one restore payload that flushes and refills the chains, adding jumps only when missing', () => {
    const plan: FirewallPlan = { families: [v4], masquerade: true, forward: true, randomFully: true };
    const payload = iptablesRestorePayload(v4, plan, { masq: false, fwd: true });
    expect(payload.split('\n').slice(0, 3)).toEqual(['*nat', ':FLANNEL-POSTRTG - [0:0]', '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG']);
    expect(payload).toContain('*filter\n:FLANNEL-FWD - [0:0]\n-A FLANNEL-FWD -s 10.244.0.0/16');
    expect(payload).not.toContain('-A FORWARD');
    expect(payload.match(/COMMIT/g)).toHaveLength(2);
    expect(iptablesRestorePayload(v4, { ...plan, masquerade: false, forward: false }, { masq: true, fwd: true })).toBe('');
  });
});

describe('nftables script', () => {
  it('matches the iptables rules (fixes quirk 10) in one transaction per run', () => {
    const script = nftablesScript({ families: [v4, v6], masquerade: true, forward: true, randomFully: true });
    expect(script).toContain('add rule ip flannel-ipv4 postrtg ip saddr != 10.244.0.0/16 ip daddr 10.244.1.0/24 return');
    expect(script).toContain('add rule ip flannel-ipv4 postrtg meta mark & 0x4000 == 0x4000 return');
    expect(script).toContain('add rule ip6 flannel-ipv6 postrtg ip6 saddr fc00:0:0:100::/56 ip6 daddr != ff00::/8 masquerade fully-random');
    expect(script).toContain('flush chain ip6 flannel-ipv6 forward');
  });
});

describe('tool versions', () => {
  it('take --random-fully from iptables 1.6.2 on (go-iptables HasRandomFully)', () => {
    expect(versionHasRandomFully('iptables v1.8.7 (nf_tables)\n')).toBe(true);
    expect(versionHasRandomFully('iptables v1.6.2')).toBe(true);
    expect(versionHasRandomFully('iptables v1.6.1')).toBe(false);
    expect(versionHasRandomFully('iptables v2.0.0')).toBe(true);
    expect(versionHasRandomFully('')).toBe(false);
  });

  it('say no when iptables is not there', async () => {
    const real = createProcessRunner();
    // The real runner, looking for the tools where they are not.
    const elsewhere: CommandRunner = { run: (command: string, args: readonly string[]) => real.run(`/nonexistent/${command}`, args), stream: real.stream };
    expect(await iptablesHasRandomFully(elsewhere)).toBe(false);
    expect(await readIptablesRules(4, elsewhere)).toEqual({ nat: undefined, filter: undefined, error: 'iptables is not installed' });
  });
});

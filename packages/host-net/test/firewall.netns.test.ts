/**
 * The firewall and the tool-version probe through an injected runner: every command goes to `ip netns exec NS`,
 * so the rules land in a namespace of ours (iptables has no namespace option), and the recorder sees each one.
 */
import { describe, expect, it } from 'vitest';
import { IpNet } from '@flannel-ts/core';
import { createNetns, createRecordingLogger } from '@flannel-ts/testkit';
import { createIptablesFirewall, iptablesHasRandomFully, readIptablesRules, type FirewallPlan } from '../src/index.js';
import { createRecordingRunner } from './recording-runner.js';

const plan: FirewallPlan = {
  families: [{ family: 4, network: IpNet.parse('10.244.0.0/16')!, subnet: IpNet.parse('10.244.1.0/24')! }],
  masquerade: true,
  forward: true,
  randomFully: false,
};

describe('iptables through an injected runner', () => {
  it('applies, checks and reads the rules with the commands the recorder saw', async () => {
    await using ns = await createNetns();
    const runner = createRecordingRunner({ netns: ns.name });
    const firewall = createIptablesFirewall(plan, createRecordingLogger(), runner);
    expect(await firewall.check()).toContain('iptables nat POSTROUTING: jump to FLANNEL-POSTRTG missing');
    await firewall.apply();
    expect(await firewall.check()).toEqual([]);
    const restores = runner.commands.filter((c) => c.command === 'iptables-restore');
    expect(restores.map((c) => c.args)).toEqual([['--noflush', '--wait']]);
    expect(restores[0]!.input).toContain(':FLANNEL-POSTRTG - [0:0]');
    expect(new Set(runner.commands.map((c) => `${c.command} ${c.args.join(' ')}`))).toEqual(new Set(['iptables-save -t nat', 'iptables-save -t filter', 'iptables-restore --noflush --wait']));

    const dump = await readIptablesRules(4, runner);
    expect(dump.error).toBeUndefined();
    expect(dump.nat).toContain('-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG');
    expect(dump.filter).toContain('-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT');
    expect(runner.commands.at(-1)).toMatchObject({ command: 'iptables', args: ['-w', '5', '-t', 'filter', '-S'] });
  });

  it('probes the iptables version through the runner', async () => {
    await using ns = await createNetns();
    const runner = createRecordingRunner({ netns: ns.name });
    // iptables 1.6.2 or newer takes --random-fully; this host's does (1.8).
    expect(await iptablesHasRandomFully(runner)).toBe(true);
    expect(runner.commands).toEqual([{ command: 'iptables', args: ['--version'], input: undefined, kind: 'run' }]);
  });
});

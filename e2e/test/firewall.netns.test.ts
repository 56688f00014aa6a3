/**
 * Masquerade and forward rules, as flannel installs them, kept in place; in iptables and in nftables mode.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ETCD_ADDRESS, startLab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { ping } from './net.js';

/** Opens TCP from a container to a server in `serverNs` and returns the client address the server saw. */
async function sourceSeenBy(serverNs: string, serverIp: string, client: LabContainer, port: number): Promise<string> {
  const server = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', `const s=require('net').createServer(c=>{console.log(c.remoteAddress);c.end();s.close()}).listen(${port},'${serverIp}',()=>console.log('listening'))`]);
  let out = '';
  server.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const closed = new Promise((resolve) => server.on('close', resolve));
  await waitFor(() => out.includes('listening'), { what: 'server' });
  await client.exec(process.execPath, ['-e', `require('net').connect(${port},'${serverIp}').on('data',()=>{}).on('close',()=>process.exit(0))`], { timeoutMs: 10_000 });
  await closed;
  return out.split('\n').filter((l) => l && l !== 'listening')[0]!.replace(/^::ffff:/, '');
}

describe('firewall, iptables mode', () => {
  it("installs flannel's rules, repairs them within a resync period, and masquerades only traffic leaving the network", async () => {
    await using lab = await startLab({ hosts: 2 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const host of lab.hosts) await lab.startFlanneld(host, ['--ip-masq', '--iptables-resync=2']);
    const P = (await h1.subnetEnv()).subnet!.toString();
    const C = '10.1.0.0/16';
    const nat = (await h1.exec('iptables', ['-t', 'nat', '-S'])).split('\n').filter((l) => l.includes('FLANNEL'));
    expect(nat).toEqual([
      '-N FLANNEL-POSTRTG',
      '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      `-A FLANNEL-POSTRTG -s ${P} -d ${C} -m comment --comment "flanneld masq" -j RETURN`,
      `-A FLANNEL-POSTRTG -s ${C} -d ${P} -m comment --comment "flanneld masq" -j RETURN`,
      `-A FLANNEL-POSTRTG ! -s ${C} -d ${P} -m comment --comment "flanneld masq" -j RETURN`,
      `-A FLANNEL-POSTRTG -s ${C} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
      `-A FLANNEL-POSTRTG ! -s ${C} -d ${C} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully`,
    ]);
    const filter = (await h1.exec('iptables', ['-S'])).split('\n').filter((l) => l.includes('FLANNEL'));
    expect(filter).toEqual([
      '-N FLANNEL-FWD',
      '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
      `-A FLANNEL-FWD -s ${C} -m comment --comment "flanneld forward" -j ACCEPT`,
      `-A FLANNEL-FWD -d ${C} -m comment --comment "flanneld forward" -j ACCEPT`,
    ]);
    expect((await h1.subnetEnv()).ipMasq).toBe(true);

    // Deleted by hand: back within one resync period.
    await h1.exec('iptables', ['-t', 'nat', '-D', 'FLANNEL-POSTRTG', '-s', C, '!', '-d', '224.0.0.0/4', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'MASQUERADE', '--random-fully']);
    await h1.exec('iptables', ['-D', 'FORWARD', '-m', 'comment', '--comment', 'flanneld forward', '-j', 'FLANNEL-FWD']);
    await waitFor(async () => (await h1.exec('iptables', ['-t', 'nat', '-S'])).split('\n').filter((l) => l.includes('FLANNEL')).join('\n') === nat.join('\n'), { timeoutMs: 6000, what: 'nat rules back' });
    await waitFor(async () => (await h1.exec('iptables', ['-S'])).includes('-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD'), { timeoutMs: 6000, what: 'forward jump back' });
    expect(h1.flanneld!.output()).toMatch(/firewall rules missing or changed, re-applying/);

    // Leaving the network: masqueraded to the host's address. Inside: the container address is kept.
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    expect(await sourceSeenBy(lab.switchNamespace, ETCD_ADDRESS, c1, 7001)).toBe(h1.underlayIp);
    expect(await sourceSeenBy(c2.name, c2.ip, c1, 7002)).toBe(c1.ip);
    expect((await ping(c1, c2.ip)).ok).toBe(true);

    // Rules stay when flanneld stops (a restart must not cut traffic).
    await lab.stopFlanneld(h1);
    expect((await h1.exec('iptables', ['-t', 'nat', '-S'])).split('\n').filter((l) => l.includes('FLANNEL'))).toEqual(nat);

    // The network changes: after the restart only rules for the new network and subnet remain.
    await lab.flannelctl(['config', 'set', '10.2.0.0/16', '--backend', 'vxlan', '--force']);
    await lab.startFlanneld(h1, ['--ip-masq']);
    const after = await h1.exec('iptables', ['-t', 'nat', '-S']);
    expect(after).toContain(`-s ${(await h1.subnetEnv()).subnet} -d 10.2.0.0/16`);
    expect(after).not.toContain('10.1.');
    expect(after.split('\n').filter((l) => l.startsWith('-A POSTROUTING'))).toHaveLength(1);
  });
});

describe('firewall, nftables mode', () => {
  it('installs the rules in table flannel-ipv4 and repairs them', async () => {
    await using lab = await startLab({ hosts: 1 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan', '--enable-nftables']);
    const h1 = lab.hosts[0]!;
    await lab.startFlanneld(h1, ['--ip-masq', '--iptables-resync=2']);
    const P = (await h1.subnetEnv()).subnet!.toString();
    const list = async () => (await h1.exec('nft', ['list', 'table', 'ip', 'flannel-ipv4'])).split('\n').map((l) => l.trim()).filter(Boolean);
    const rules = await list();
    expect(rules).toEqual(
      expect.arrayContaining([
        'comment "rules for flannel-ipv4"',
        'comment "chain to accept flannel traffic"',
        'ip saddr 10.1.0.0/16 accept',
        'ip daddr 10.1.0.0/16 accept',
        'comment "chain to manage traffic masquerading by flannel"',
        'meta mark & 0x00004000 == 0x00004000 return',
        `ip saddr ${P} ip daddr 10.1.0.0/16 return`,
        `ip saddr 10.1.0.0/16 ip daddr ${P} return`,
        `ip saddr != 10.1.0.0/16 ip daddr ${P} return`,
        'ip saddr 10.1.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random',
        'ip saddr != 10.1.0.0/16 ip daddr 10.1.0.0/16 masquerade fully-random',
      ]),
    );
    // No iptables chains in nftables mode.
    expect(await h1.exec('iptables', ['-t', 'nat', '-S'])).not.toContain('FLANNEL');
    await h1.exec('nft', ['flush', 'chain', 'ip', 'flannel-ipv4', 'postrtg']);
    await waitFor(async () => (await list()).join('\n') === rules.join('\n'), { timeoutMs: 6000, what: 'nft rules back' });
  });
});

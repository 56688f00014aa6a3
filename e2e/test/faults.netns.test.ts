/**
 * Faults flanneld must ride out: restarts under traffic, and many hosts joining at once.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, startLab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { createNetns, startDaemon, type DaemonProcess } from '@flannel-ts/testkit';

/** Runs ping at 20/s from `from` to `to` while `during` runs; returns the loss in percent. */
async function lossDuring(from: LabContainer, to: LabContainer, during: () => Promise<void>): Promise<{ loss: number; output: string }> {
  const pinger = spawn('ip', ['netns', 'exec', from.name, 'ping', '-i', '0.05', '-W', '1', to.ip]);
  let output = '';
  pinger.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const done = new Promise((resolve) => pinger.on('close', resolve));
  await new Promise((r) => setTimeout(r, 500));
  await during();
  await new Promise((r) => setTimeout(r, 1000));
  pinger.kill('SIGINT');
  await done;
  return { loss: Number(/(\d+(?:\.\d+)?)% packet loss/.exec(output)?.[1] ?? 100), output };
}

describe('restarts under traffic', () => {
  it('vxlan: SIGKILL and restart lose no packet; the subnet is kept', async () => {
    await using lab = await startLab({ hosts: 2 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const host of lab.hosts) await lab.startFlanneld(host);
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    const before = (await h2.subnetEnv()).subnet!.toString();
    const { loss, output } = await lossDuring(c1, c2, async () => {
      await lab.stopFlanneld(h2, 'SIGKILL');
      await lab.startFlanneld(h2);
    });
    expect(loss, output).toBe(0);
    expect((await h2.subnetEnv()).subnet?.toString()).toBe(before);
  });

  it('udp: SIGTERM restart loses packets only while flanneld is down', async () => {
    await using lab = await startLab({ hosts: 2 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'udp']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    for (const host of lab.hosts) await lab.startFlanneld(host);
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    let downMs = 0;
    const { loss, output } = await lossDuring(c1, c2, async () => {
      const start = Date.now();
      await lab.stopFlanneld(h2, 'SIGTERM');
      await lab.startFlanneld(h2);
      downMs = Date.now() - start;
    });
    // 20 pings a second: the lost ones fit in the restart window (plus one in flight).
    const sent = Number(/(\d+) packets transmitted/.exec(output)?.[1] ?? 0);
    const lostPackets = Math.round((loss / 100) * sent);
    expect(lostPackets).toBeLessThanOrEqual(Math.ceil(downMs / 50) + 2);
    expect(lostPackets).toBeGreaterThan(0); // the TUN goes with the process: this is the udp backend's window
  });
});

describe('etcd down', () => {
  it('keeps the data path for 60 s without etcd, then renews the lease and resyncs peers', async () => {
    await using lab = await startLab({ hosts: 2 });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    const [h1, h2] = lab.hosts as [LabHost, LabHost];
    // A 40 s lease renews after 20 s, in the middle of the outage, and retries every 4 s.
    for (const host of lab.hosts) await lab.startFlanneld(host, ['--subnet-lease-ttl=40']);
    const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
    const subnets = [(await h1.subnetEnv()).subnet!.toString(), (await h2.subnetEnv()).subnet!.toString()];
    let restartedAt = 0;
    const { loss, output } = await lossDuring(c1, c2, async () => {
      await lab.etcd.stop();
      await new Promise((r) => setTimeout(r, 60_000));
      await lab.etcd.start();
      restartedAt = Date.now();
    });
    expect(loss, output.slice(-500)).toBe(0);
    for (const host of lab.hosts) {
      await host.flanneld!.waitForOutput(/etcd reachable again/, 30_000);
      // Renewed (or, had the key expired meanwhile, acquired again: with the same subnet either way).
      await host.flanneld!.waitForOutput(/renewed lease|acquired lease subnet=\S+ publicIP=\S+ source=previous/, 30_000);
    }
    expect(Date.now() - restartedAt).toBeLessThan(30_000);
    expect([(await h1.subnetEnv()).subnet!.toString(), (await h2.subnetEnv()).subnet!.toString()]).toEqual(subnets);
    const leases = JSON.parse(await lab.flannelctl(['leases', 'list', '--json'])) as Array<{ subnet: string }>;
    expect(leases.map((l) => l.subnet).sort()).toEqual([...subnets].sort());
    expect((await h1.exec('ip', ['route', 'show', 'dev', 'flannel.1']))).toContain(subnets[1]);
  }, 150_000);
});

describe('50 hosts joining at once', () => {
  it('gives every host a distinct subnet', async () => {
    await using lab = await startLab({ hosts: 0 });
    await lab.flannelctl(['config', 'set', '10.5.0.0/16', '--backend', 'alloc']);
    // One namespace, 50 flanneld processes, each with its own public IP on loopback (the alloc backend needs no
    // data path), all reaching etcd at once.
    await using ns = await createNetns();
    const dir = join(lab.dir, 'fifty');
    await mkdir(dir, { recursive: true });
    const daemons: DaemonProcess[] = [];
    try {
      for (let i = 1; i <= 50; i++) {
        daemons.push(
          startDaemon('ip', ['netns', 'exec', ns.name, BIN.flanneld, `--etcd-endpoints=${lab.etcd.localEndpoint}`, '--iface=lo', `--public-ip=198.51.100.${i}`, `--subnet-file=${join(dir, `${i}.env`)}`, '--iptables-forward-rules=false']),
        );
      }
      await Promise.all(daemons.map((d) => d.waitForOutput(/flanneld is running/, 90_000)));
      const subnets = await Promise.all(Array.from({ length: 50 }, async (_, i) => /FLANNEL_SUBNET=(\S+)/.exec(await readFile(join(dir, `${i + 1}.env`), 'utf8'))?.[1]));
      expect(new Set(subnets).size).toBe(50);
      const leases = JSON.parse(await lab.flannelctl(['leases', 'list', '--json'])) as Array<{ publicIP: string }>;
      expect(new Set(leases.map((l) => l.publicIP)).size).toBe(50);
    } finally {
      await Promise.all(daemons.map((d) => d.stop('SIGTERM')));
    }
  }, 180_000);
});

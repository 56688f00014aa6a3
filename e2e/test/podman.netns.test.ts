/**
 * A real runtime: Debian's podman (CNI backend) on two lab hosts running flanneld (vxlan), with the plugin put in
 * place by `flannel install` and a conflist entry `{"type": "flannel"}`. `podman run --network flannet` containers
 * get their host's flannel subnet and ping each other across the overlay; `podman rm` releases everything.
 *
 * Recipe (../shared/lab/podman-cni.md): a private containers.conf (CNI backend, our plugin directory first, then
 * Debian's /usr/lib/cni), per-host --root/--runroot/--tmpdir, cgroupfs, nsenter --net (ip netns exec would remount
 * /sys and hide the cgroups from runc), lowered rlimits, and a busybox image made with `podman import`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLANNEL_CNI, startLab, type Lab, type LabHost } from '@flannel-ts/lab';
import { run } from '@flannel-ts/testkit';

const PODMAN = '/usr/bin/podman';
const IMAGE = 'localhost/flannel-lab/bb:1';

interface PodmanHost {
  readonly host: LabHost;
  readonly dir: string;
  podman(args: readonly string[], timeoutMs?: number): Promise<string>;
}

async function busyboxTar(dir: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  const applets = (await run('/bin/busybox', ['--list'])).split('\n').filter((a) => a !== '' && a !== 'busybox');
  await Promise.all(applets.map((a) => symlink('busybox', join(rootfs, 'bin', a))));
  for (const d of ['tmp', 'etc', 'proc', 'sys', 'dev']) await mkdir(join(rootfs, d), { recursive: true });
  const tar = join(dir, 'rootfs.tar');
  await run('tar', ['-C', rootfs, '-cf', tar, '.']);
  await rm(rootfs, { recursive: true, force: true });
  return tar;
}

async function podmanHost(lab: Lab, host: LabHost, pluginDir: string): Promise<PodmanHost> {
  const dir = join(lab.dir, `h${host.index}`, 'podman');
  const netDir = join(dir, 'networks');
  await mkdir(netDir, { recursive: true });
  await writeFile(
    join(netDir, 'flannet.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'flannet',
      plugins: [{ type: 'flannel', subnetFile: host.subnetFile, dataDir: join(dir, 'cni-flannel'), ipam: { dataDir: join(dir, 'cni-ipam') } }],
    }),
  );
  const conf = join(dir, 'containers.conf');
  await writeFile(conf, `[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${pluginDir}", "/usr/lib/cni"]\nnetwork_config_dir = "${netDir}"\n`);
  const flags = ['--root', join(dir, 'root'), '--runroot', join(dir, 'runroot'), '--tmpdir', join(dir, 'tmp'), '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  return {
    host,
    dir,
    podman: (args, timeoutMs = 60_000) => run('env', [`CONTAINERS_CONF=${conf}`, 'nsenter', `--net=/run/netns/${host.name}`, PODMAN, ...flags, ...args], { timeoutMs }),
  };
}

async function teardown(p: PodmanHost): Promise<void> {
  await p.podman(['rm', '-af', '-t', '0']).catch(() => undefined);
  // Whatever podman left mounted under its root (overlay layers, shm) goes before the directory does.
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(p.dir));
  for (const m of mounts.sort().reverse()) await run('umount', ['-l', m]).catch(() => undefined);
}

describe('podman (CNI backend) with the flannel plugin, 2 hosts on vxlan', () => {
  let lab: Lab;
  const hosts: PodmanHost[] = [];

  beforeAll(async () => {
    if (!existsSync(PODMAN)) throw new Error(`${PODMAN} is missing: install podman (scripts/setup.sh does)`);
    lab = await startLab({ hosts: 2, flanneldArgs: ['--ip-masq'] });
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', 'vxlan']);
    for (const host of lab.hosts) await lab.startFlanneld(host);
    for (const host of lab.hosts) await host.flanneld!.waitForOutput(/peer added/);
    const pluginDir = join(lab.dir, 'cni-bin');
    await run(FLANNEL_CNI, ['install', '--dir', pluginDir]);
    const tar = await busyboxTar(lab.dir);
    for (const host of lab.hosts) {
      const p = await podmanHost(lab, host, pluginDir);
      hosts.push(p);
      await p.podman(['import', tar, IMAGE]);
    }
  });

  afterAll(async () => {
    for (const p of hosts) await teardown(p);
    await lab?.[Symbol.asyncDispose]();
  });

  it('podman run --network flannet: containers on each host\'s subnet ping each other across the overlay', async () => {
    const ips: string[] = [];
    for (const p of hosts) {
      await p.podman(['run', '-d', '--name', `c${p.host.index}`, '--network', 'flannet', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', IMAGE, 'sleep', '300']);
      const ip = (await p.podman(['inspect', '-f', '{{(index .NetworkSettings.Networks "flannet").IPAddress}}', `c${p.host.index}`])).trim();
      const env = await p.host.subnetEnv();
      expect(env.subnet!.containsAddress(BigInt(ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)))).toBe(true);
      expect((await p.podman(['exec', `c${p.host.index}`, 'cat', '/sys/class/net/eth0/mtu'])).trim()).toBe(String(env.mtu));
      expect(await p.podman(['exec', `c${p.host.index}`, 'ip', 'route'])).toContain(`10.1.0.0/16 via ${env.subnet!.addressText(1n)}`);
      ips.push(ip);
    }
    const [h1, h2] = hosts as [PodmanHost, PodmanHost];
    expect(await h1.podman(['exec', 'c1', 'ping', '-c', '2', '-W', '2', ips[1]!])).toMatch(/2 packets received/);
    expect(await h2.podman(['exec', 'c2', 'ping', '-c', '2', '-W', '2', ips[0]!])).toMatch(/2 packets received/);
  });

  it('podman rm releases the address and the saved delegate config', async () => {
    for (const p of hosts) {
      expect(readdirSync(join(p.dir, 'cni-flannel'))).toHaveLength(1);
      await p.podman(['rm', '-f', '-t', '0', `c${p.host.index}`]);
      expect(readdirSync(join(p.dir, 'cni-flannel'))).toEqual([]);
      expect(readdirSync(join(p.dir, 'cni-ipam', 'flannet')).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))).toEqual([]);
    }
  });
});

/**
 * The host operations against the real kernel, inside a network namespace: docker0's addresses, MTU and ports,
 * removing an address, routes as `ip -j` gives them; dockerd and flanneld found through a /proc of our making.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpNet } from '@flannel-ts/core';
import { createHostNetwork } from '@flannel-ts/host-net';
import { createNetns, createTempDir, type Netns, type TempDir } from '@flannel-ts/testkit';
import { createHostOps, findConflictingRoutes, runCommand, type DockerHostOps } from '../src/index.js';

let ns: Netns;
let dir: TempDir;
let host: DockerHostOps;

beforeAll(async () => {
  ns = await createNetns();
  dir = await createTempDir('docker-host-test-');
  host = createHostOps({
    network: createHostNetwork({ netns: ns.name }),
    run: (command, args, options) => runCommand('ip', ['netns', 'exec', ns.name, command, ...args], options),
    procRoot: join(dir.path, 'proc'),
    systemdDir: join(dir.path, 'run-systemd-system'),
  });
  await ns.exec('ip', ['link', 'add', 'docker0', 'type', 'bridge']);
  await ns.exec('ip', ['addr', 'add', '172.17.0.1/16', 'dev', 'docker0']);
  await ns.exec('ip', ['addr', 'add', '10.1.74.1/24', 'dev', 'docker0']);
  await ns.exec('ip', ['link', 'set', 'docker0', 'up']);
  await ns.exec('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1']);
  await ns.exec('ip', ['link', 'set', 'veth0', 'master', 'docker0']);
  await ns.exec('ip', ['link', 'add', 'eth0', 'type', 'bridge']);
  await ns.exec('ip', ['addr', 'add', '192.0.2.11/24', 'dev', 'eth0']);
  await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
  await ns.exec('ip', ['route', 'add', '10.1.74.128/25', 'via', '192.0.2.12']);
});

afterAll(async () => {
  await ns?.[Symbol.asyncDispose]();
  await dir?.[Symbol.asyncDispose]();
});

describe('host operations in a network namespace', () => {
  it('reads a bridge and says when there is none', async () => {
    const bridge = await host.bridge('docker0');
    expect(bridge).toMatchObject({ name: 'docker0', mtu: 1500, ports: 1 });
    expect(bridge?.addresses.filter((a) => a.family === 4)).toEqual([
      { family: 4, cidr: '172.17.0.1/16' },
      { family: 4, cidr: '10.1.74.1/24' },
    ]);
    expect(await host.bridge('nodocker0')).toBeUndefined();
  });

  it('removes an address and sets the MTU', async () => {
    await host.deleteAddress('docker0', '172.17.0.1/16');
    await host.setMtu('docker0', 1450);
    const bridge = await host.bridge('docker0');
    expect(bridge?.addresses.filter((a) => a.family === 4).map((a) => a.cidr)).toEqual(['10.1.74.1/24']);
    expect(bridge?.mtu).toBe(1450);
  });

  it('reads routes the way the conflict check needs them', async () => {
    const routes = await host.routes();
    expect(findConflictingRoutes(IpNet.parse('10.1.74.0/24')!, routes)).toEqual([expect.objectContaining({ dst: '10.1.74.128/25', gateway: '192.0.2.12', dev: 'eth0' })]);
  });

  it('finds dockerd by its pidfile and flanneld by its command line', async () => {
    const proc = join(dir.path, 'proc');
    const fakeProcess = async (pid: number, argv: string[]) => {
      await mkdir(join(proc, String(pid)), { recursive: true });
      await writeFile(join(proc, String(pid), 'cmdline'), `${argv.join('\0')}\0`);
    };
    await fakeProcess(100, ['/usr/sbin/dockerd', '-H', 'fd://', '--bip=10.1.74.1/24']);
    await fakeProcess(200, ['node', '/opt/flannel-ts/bin/../apps/flanneld/dist/main.js', '--subnet-file=/x/subnet.env']);
    await fakeProcess(300, ['/usr/bin/sleep', '600']);
    const pidfile = join(dir.path, 'docker.pid');
    await writeFile(pidfile, '100');
    expect(await host.runningDockerd(pidfile)).toEqual({ pid: 100, argv: ['/usr/sbin/dockerd', '-H', 'fd://', '--bip=10.1.74.1/24'] });
    await writeFile(pidfile, '300\n');
    expect(await host.runningDockerd(pidfile)).toBeUndefined();
    expect(await host.runningDockerd(join(dir.path, 'none.pid'))).toBeUndefined();
    expect(await host.flanneldProcesses()).toEqual([{ pid: 200, argv: ['node', '/opt/flannel-ts/bin/../apps/flanneld/dist/main.js', '--subnet-file=/x/subnet.env'] }]);
  });

  it('knows whether systemd runs and runs a restart command', async () => {
    expect(await host.systemdRunning()).toBe(false);
    await mkdir(join(dir.path, 'run-systemd-system'));
    expect(await host.systemdRunning()).toBe(true);
    expect(await host.restart({ kind: 'command', command: 'ip -o link show docker0 | grep -c docker0' }, 5000)).toBe('1\n');
    await expect(host.restart({ kind: 'command', command: 'echo no dockerd here >&2; exit 3' }, 5000)).rejects.toThrow(/failed: no dockerd here/);
  });
});

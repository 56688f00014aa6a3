/**
 * The seed scenario with real Docker: two hosts, each with flanneld and its own dockerd (Debian docker.io, started
 * on Docker's default 172.17.0.1/16). bin/flannel-docker-setup moves each dockerd onto its flannel subnet and
 * restarts it; then a container started with `docker run` on host 1 pings and opens TCP to a container on host 2,
 * which sees host 1's container address as the source. Once over udp with the env-file (mk-docker-opts) mode,
 * once over vxlan with daemon.json. flanneld runs with --ip-masq, so Docker gets --ip-masq=false, as flannel
 * users set it up.
 */
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerLab, startLab, type DockerLab, type Lab, type LabDockerHost } from '@flannel-ts/lab';

const NETWORK = '10.1.0.0/16';

const SCENARIOS = [
  { backend: 'udp', mode: 'env-file', mtu: 1472 },
  { backend: 'vxlan', mode: 'daemon-json', mtu: 1450 },
] as const;

interface BridgeNetwork {
  IPAM: { Config: Array<{ Subnet: string; Gateway: string }> };
  Options: Record<string, string>;
}

describe.each(SCENARIOS)('Docker on flannel, $backend backend, $mode mode', ({ backend, mode, mtu }) => {
  let lab: Lab;
  let docker: DockerLab;
  let subnets: string[];
  const failureContext = () => docker.hosts.map((h) => `--- dockerd on host ${h.host.index} ---\n${h.log().split('\n').slice(-20).join('\n')}`).join('\n');

  beforeAll(async () => {
    lab = await startLab({ hosts: 2, flanneldArgs: ['--ip-masq'] });
    docker = await startDockerLab(lab, { mode, network: NETWORK });
    await lab.flannelctl(['config', 'set', NETWORK, '--backend', backend]);
    for (const host of lab.hosts) await lab.startFlanneld(host);
    for (const host of lab.hosts) await host.flanneld!.waitForOutput(/peer added/);
    subnets = await Promise.all(lab.hosts.map(async (host) => (await host.subnetEnv()).variables['FLANNEL_SUBNET']!));
  });

  afterAll(async () => {
    // Docker first (containers, dockerd, mounts), then the lab's flanneld, etcd and namespaces.
    await docker?.[Symbol.asyncDispose]();
    await lab?.[Symbol.asyncDispose]();
  });

  it('moves each dockerd from 172.17.0.1/16 onto its flannel subnet, restarting it, and verifies', async () => {
    for (const dh of docker.hosts) expect(await bridgeAddresses(dh)).toEqual(['172.17.0.1/16']);
    const pidsBefore = docker.hosts.map((dh) => dh.pid());
    // Both hosts at once, as real hosts would.
    const results = await Promise.all(docker.hosts.map((dh) => dh.setup()));
    for (const [i, dh] of docker.hosts.entries()) {
      const result = results[i]!;
      const subnet = subnets[i]!;
      expect(result.code, `${result.stdout}${result.stderr}\n${failureContext()}`).toBe(0);
      expect(result.stdout).toContain('removed stale address 172.17.0.1/16 from the bridge');
      expect(result.stdout).toContain('restarted Docker (restart command "');
      expect(result.stdout).toContain(`verified: docker0 ${subnet} mtu ${mtu}, ip-masq false, Docker 20.10`);
      expect(dh.restarts).toBe(1);
      expect(dh.pid()).not.toBe(pidsBefore[i]);
      expect(await bridgeAddresses(dh)).toEqual([subnet]);

      const flags = [`--bip=${subnet}`, '--ip-masq=false', `--mtu=${mtu}`];
      if (mode === 'env-file') {
        expect(await readFile(dh.optsFile, 'utf8')).toBe(
          `DOCKER_OPT_BIP="--bip=${subnet}"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=${mtu}"\nDOCKER_OPTS=" ${flags.join(' ')}"\n`,
        );
        expect(dh.flags()).toEqual(flags);
      } else {
        expect(JSON.parse(await readFile(dh.daemonJson, 'utf8'))).toEqual({ 'log-level': 'warn', bip: subnet, mtu, 'ip-masq': false });
        expect(dh.flags()).toEqual([]);
      }
      const [network] = JSON.parse(await dh.docker(['network', 'inspect', 'bridge'])) as BridgeNetwork[];
      expect(network?.IPAM.Config[0]).toEqual({ Subnet: subnet.replace(/\.1\//, '.0/'), Gateway: subnet.split('/')[0] });
      expect(network?.Options['com.docker.network.driver.mtu']).toBe(String(mtu));
    }
  });

  it('changes nothing when run again', async () => {
    for (const dh of docker.hosts) {
      const pid = dh.pid();
      const file = mode === 'env-file' ? dh.optsFile : dh.daemonJson;
      const before = await stat(file);
      const result = await dh.setup();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`${file} is up to date`);
      expect(result.stdout).toContain('Docker already runs on these options: nothing restarted');
      expect(dh.pid()).toBe(pid);
      expect(dh.restarts).toBe(1);
      expect((await stat(file)).mtimeMs).toBe(before.mtimeMs);
    }
  });

  it('lets a container on host 1 ping and open TCP to a container on host 2, keeping its source address', async () => {
    const [h1, h2] = docker.hosts as [LabDockerHost, LabDockerHost];
    await h1.runContainer('c1', ['sleep', '600']);
    await h2.runContainer('c2', ['sleep', '600']);
    // Answers each connection with its own view of it: netstat shows the peer's address as this side sees it.
    await h2.runContainer('srv', ['nc', '-ll', '-p', '7000', '-e', 'netstat', '-tn']);
    const [c1, c2, srv] = await Promise.all([h1.containerIp('c1'), h2.containerIp('c2'), h2.containerIp('srv')]);
    expect(inSubnet(c1, subnets[0]!)).toBe(true);
    expect(inSubnet(c2, subnets[1]!)).toBe(true);
    expect(await h1.docker(['exec', 'c1', 'cat', '/sys/class/net/eth0/mtu'])).toBe(`${mtu}\n`);

    const there = await h1.docker(['exec', 'c1', 'ping', '-c', '3', '-i', '0.3', '-W', '2', c2]);
    expect(there).toMatch(/3 packets transmitted, 3 packets received, 0% packet loss/);
    const back = await h2.docker(['exec', 'c2', 'ping', '-c', '2', '-i', '0.3', '-W', '2', c1]);
    expect(back).toMatch(/2 packets transmitted, 2 packets received/);
    // A fresh `docker run` container reaches the other host too; DF pings of exactly the MTU fit.
    const fresh = await h1.docker(['run', '--rm', docker.image, 'ping', '-c', '1', '-W', '2', '-s', String(mtu - 28), c2]);
    expect(fresh).toMatch(/1 packets received/);

    const seen = await h1.docker(['exec', 'c1', 'nc', '-w', '3', srv, '7000']);
    expect(seen, seen).toMatch(new RegExp(`${escape(srv)}:7000\\s+(::ffff:)?${escape(c1)}:\\d+\\s`));
  });

  if (mode === 'env-file') {
    it('refuses daemon.json mode while the running dockerd has the flags, restarting nothing', async () => {
      const dh = docker.hosts[0]!;
      const pid = dh.pid();
      const before = await readFile(dh.daemonJson, 'utf8');
      const args = dh.setupArgs().filter((arg) => !arg.startsWith('--opts-file='));
      const result = await dh.runSetup([...args, '--daemon-json']);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`--bip is given both as a dockerd flag (in the running dockerd (pid ${pid})) and in ${dh.daemonJson} ("bip"): remove one`);
      expect(result.stderr).toContain('nothing was written or restarted');
      expect(dh.pid()).toBe(pid);
      expect(await readFile(dh.daemonJson, 'utf8')).toBe(before);
    });
  } else {
    it('refuses env-file mode while daemon.json holds the settings, restarting nothing', async () => {
      const dh = docker.hosts[0]!;
      const pid = dh.pid();
      const optsFile = `${dh.dir}/would-be-opts.env`;
      const args = dh.setupArgs().filter((arg) => arg !== '--daemon-json');
      const result = await dh.runSetup([...args, `--opts-file=${optsFile}`]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`--bip is given both as a dockerd flag (in the options written to ${optsFile}) and in ${dh.daemonJson} ("bip"): remove one`);
      expect(dh.pid()).toBe(pid);
      await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
    });
  }
});

async function bridgeAddresses(dh: LabDockerHost): Promise<string[]> {
  const links = await dh.host.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(['-4', 'addr', 'show', 'docker0']);
  return (links[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

function inSubnet(ip: string, gatewayCidr: string): boolean {
  const [gateway = '', length] = gatewayCidr.split('/');
  // The lab's subnets are /24.
  expect(length).toBe('24');
  return ip.split('.').slice(0, 3).join('.') === gateway.split('.').slice(0, 3).join('.') && ip !== gateway;
}

function escape(text: string): string {
  return text.replace(/\./g, '\\.');
}

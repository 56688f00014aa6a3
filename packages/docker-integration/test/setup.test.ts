import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRecordingLogger, createTempDir, type TempDir } from '@flannel-ts/testkit';
import { DockerSetupError, setupDocker, waitForSubnetEnv, type SetupDockerRequest } from '../src/index.js';
import { createFakeDocker, type FakeDocker, type FakeDockerOptions } from './fake-docker.js';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
const OPTS_FILE = 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=false"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=false --mtu=1472"\n';

let dir: TempDir;
let subnetFile: string;
let optsFile: string;
let daemonJson: string;

beforeEach(async () => {
  dir = await createTempDir('docker-setup-test-');
  subnetFile = join(dir.path, 'subnet.env');
  optsFile = join(dir.path, 'docker_opts.env');
  daemonJson = join(dir.path, 'daemon.json');
  await writeFile(subnetFile, SUBNET_ENV);
});

afterEach(async () => {
  await dir[Symbol.asyncDispose]();
});

function envRequest(overrides: Partial<SetupDockerRequest> = {}): SetupDockerRequest {
  return {
    subnetFile,
    waitMs: 0,
    target: { kind: 'env-file', path: optsFile, format: { individual: true, combined: true, key: 'DOCKER_OPTS' } },
    daemonJson,
    ipMasq: true,
    restart: { kind: 'command', command: 'restart-docker' },
    bridge: 'docker0',
    dockerPidfile: join(dir.path, 'docker.pid'),
    dockerdArgs: [],
    restartTimeoutMs: 1000,
    verifyTimeoutMs: 200,
    ...overrides,
  };
}

const jsonRequest = (overrides: Partial<SetupDockerRequest> = {}) => envRequest({ target: { kind: 'daemon-json', path: daemonJson }, ...overrides });

function fakeFor(request: SetupDockerRequest, options: FakeDockerOptions = {}): FakeDocker {
  const reads = request.target.kind === 'env-file' ? { kind: 'env-file' as const, path: request.target.path, key: request.target.format.key } : { kind: 'daemon-json' as const, path: request.target.path ?? daemonJson };
  return createFakeDocker({ reads, running: {}, ...options });
}

const run = (request: SetupDockerRequest, fake: FakeDocker, log = createRecordingLogger()) =>
  setupDocker(request, { log, host: fake.host, docker: fake.docker, sleep: async () => undefined });

describe('setupDocker, env-file mode', () => {
  it('writes the options, removes the stale docker0 address, restarts and verifies; a second run changes nothing', async () => {
    const request = envRequest();
    const fake = fakeFor(request);
    const log = createRecordingLogger();
    const first = await run(request, fake, log);
    expect(await readFile(optsFile, 'utf8')).toBe(OPTS_FILE);
    expect((await stat(optsFile)).mode & 0o777).toBe(0o644);
    expect(first).toMatchObject({ written: true, restart: 'done', removedAddresses: ['172.17.0.1/16'], flags: ['--bip=10.1.74.1/24', '--ip-masq=false', '--mtu=1472'] });
    expect(first.state?.network).toMatchObject({ subnet: '10.1.74.0/24', gateway: '10.1.74.1', mtu: 1472, ipMasq: false });
    // The stale address goes before the restart; the empty bridge is set to the flannel MTU after it.
    expect(fake.calls.filter((c) => c !== 'routes')).toEqual(['deleteAddress docker0 172.17.0.1/16', 'restart command', 'setMtu docker0 1472']);
    expect(fake.bridge).toEqual({ mtu: 1472, addresses: ['10.1.74.1/24'], ports: 0 });
    expect(log.find('docker verified on the flannel subnet')).toBeDefined();

    fake.calls.length = 0;
    const second = await run(request, fake);
    expect(second).toMatchObject({ written: false, restart: 'not-needed', pending: [], removedAddresses: [], bridgeMtuSet: false });
    expect(fake.restarts).toBe(1);
    expect(fake.calls).toEqual(['routes']);
  });

  it('restarts when the file is unchanged but Docker is not on it (a restart that never happened)', async () => {
    const request = envRequest();
    await writeFile(optsFile, OPTS_FILE);
    const fake = fakeFor(request);
    const result = await run(request, fake);
    expect(result).toMatchObject({ written: false, restart: 'done' });
    expect(result.pending).toEqual([
      "Docker's bridge network is 172.17.0.0/16 (gateway 172.17.0.1), not 10.1.74.0/24 (gateway 10.1.74.1)",
      'docker0 has 172.17.0.1/16, not 10.1.74.1/24',
      "Docker's network MTU is 1500, not 1472",
      "Docker's ip-masq is true, not false",
    ]);
  });

  it('with no restart method, writes the file and says what is pending, touching nothing else', async () => {
    const request = envRequest({ restart: { kind: 'none', why: 'asked' } });
    const fake = fakeFor(request, { running: false });
    const result = await run(request, fake);
    expect(result).toMatchObject({ written: true, restart: 'skipped' });
    expect(result.pending).toEqual([`the options in ${optsFile} changed`, 'Docker does not answer on unix:///fake/docker.sock (connect ENOENT /fake/docker.sock)']);
    expect(fake.calls).toEqual(['routes']);
  });

  it('honours -i, -c, -k and a preset combined value', async () => {
    const request = envRequest({ target: { kind: 'env-file', path: optsFile, format: { individual: false, combined: true, key: 'DOCKER_NETWORK_OPTIONS', preset: '--foo' } }, ipMasq: false });
    await run(request, fakeFor(request));
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_NETWORK_OPTIONS="--foo  --bip=10.1.74.1/24 --mtu=1472"\n');
  });

  it('refuses flags that daemon.json also sets, before writing or restarting', async () => {
    await writeFile(daemonJson, '{"bip": "172.18.0.1/16", "debug": true}');
    const request = envRequest();
    const fake = fakeFor(request);
    const error = await run(request, fake).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DockerSetupError);
    expect((error as DockerSetupError).reason).toBe('FLAG_CONFLICT');
    expect((error as Error).message).toBe(
      `--bip is given both as a dockerd flag (in the options written to ${optsFile}) and in ${daemonJson} ("bip"): remove one. dockerd refuses to start when a setting is both a flag and in its configuration file, so nothing was written or restarted. Remove those keys from ${daemonJson}, or use daemon.json mode instead of the env file.`,
    );
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
    expect(fake.restarts).toBe(0);
  });

  it('checks the daemon.json the running dockerd was started with (--config-file)', async () => {
    const other = join(dir.path, 'other.json');
    await writeFile(other, '{"mtu": 1500}');
    const request = envRequest({ daemonJson: undefined });
    const fake = fakeFor(request, { dockerdArgv: ['/usr/sbin/dockerd', '--config-file', other] });
    await expect(run(request, fake)).rejects.toThrow(`--mtu is given both as a dockerd flag (in the options written to ${optsFile}) and in ${other} ("mtu")`);
  });

  it('refuses a routing table that already routes the subnet, writing nothing', async () => {
    const request = envRequest();
    const fake = fakeFor(request, { routes: [{ dst: '10.1.74.0/24', gateway: '192.0.2.12', dev: 'eth0' }] });
    const error = await run(request, fake).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('ROUTE_CONFLICT');
    expect((error as Error).message).toMatch(/^your routing table already contains the subnet 10.1.74.0\/24 \(10.1.74.0\/24 via 192.0.2.12 dev eth0\)/);
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
  });

  it('refuses an invalid FLANNEL_IPMASQ without writing the file', async () => {
    await writeFile(subnetFile, 'FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=maybe\n');
    const request = envRequest();
    await expect(run(request, fakeFor(request))).rejects.toThrow(`invalid value of FLANNEL_IPMASQ in ${subnetFile}: "maybe"`);
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a subnet.env with nothing for Docker in it', async () => {
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\n');
    const request = envRequest();
    await expect(run(request, fakeFor(request))).rejects.toThrow(`${subnetFile} has neither FLANNEL_SUBNET nor FLANNEL_MTU`);
  });

  it('reports a failed restart with its output', async () => {
    const request = envRequest();
    const fake = fakeFor(request, { restartFails: 'sh -c restart-docker failed: restart-docker: not found' });
    const error = await run(request, fake).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('RESTART_FAILED');
    expect((error as Error).message).toBe('restarting Docker with restart command "restart-docker" failed: sh -c restart-docker failed: restart-docker: not found');
  });

  it('fails verification when the restarted dockerd did not get the options, saying where to look', async () => {
    const request = envRequest();
    const fake = createFakeDocker({ reads: { kind: 'nothing' }, running: {} });
    const error = await run(request, fake).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('VERIFY_FAILED');
    expect((error as Error).message).toMatch(/^after the restart, Docker is not on the flannel options within 0.2 s: Docker's bridge network is 172.17.0.0\/16/);
    expect((error as Error).message).toMatch(/check that dockerd is started with the options from .*docker_opts.env \(the systemd drop-in in deploy\/ passes \$DOCKER_OPTS\)$/);
  });

  it('does not lower the MTU of a bridge that has containers (their old MTU needs a restart)', async () => {
    const request = envRequest({ restart: { kind: 'none', why: 'no-systemd' } });
    const fake = fakeFor(request, { running: { bip: '10.1.74.1/24', mtu: 1472, ipMasq: false } });
    fake.bridge = { mtu: 1500, addresses: ['10.1.74.1/24'], ports: 1 };
    await writeFile(optsFile, OPTS_FILE);
    const result = await run(request, fake);
    expect(result).toMatchObject({ restart: 'skipped', pending: ['docker0 has MTU 1500, not 1472'] });
    expect(fake.calls).not.toContain('setMtu docker0 1472');
  });
});

describe('setupDocker, daemon.json mode', () => {
  it('merges the keys, keeps the others and the file mode, restarts once', async () => {
    await writeFile(daemonJson, '{\n  "log-level": "warn"\n}\n');
    await chmod(daemonJson, 0o600);
    const request = jsonRequest();
    const fake = fakeFor(request);
    const first = await run(request, fake);
    expect(first).toMatchObject({ written: true, restart: 'done' });
    expect(await readFile(daemonJson, 'utf8')).toBe('{\n  "log-level": "warn",\n  "bip": "10.1.74.1/24",\n  "mtu": 1472,\n  "ip-masq": false\n}\n');
    expect((await stat(daemonJson)).mode & 0o777).toBe(0o600);
    const second = await run(request, fake);
    expect(second).toMatchObject({ written: false, restart: 'not-needed' });
    expect(fake.restarts).toBe(1);
  });

  it('finds flags of the running dockerd, the systemd unit and --dockerd-args that daemon.json would also set', async () => {
    const request = jsonRequest({
      restart: { kind: 'systemd', unit: 'docker' },
      dockerdArgs: [{ label: '--dockerd-args', args: ['--ip-masq=false'] }],
    });
    const fake = fakeFor(request, {
      dockerdArgv: ['/usr/sbin/dockerd', '-H', 'fd://', '--bip=10.1.74.1/24', '--mtu=1472'],
      unitExecStart: '/usr/sbin/dockerd -H fd:// --mtu 1472 $DOCKER_OPTS',
    });
    const error = await run(request, fake).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('FLAG_CONFLICT');
    const message = (error as Error).message;
    expect(message).toContain(`--bip is given both as a dockerd flag (in the running dockerd (pid 4242)) and in ${daemonJson} ("bip"): remove one`);
    expect(message).toContain(`--mtu is given both as a dockerd flag (in the ExecStart of docker.service) and in ${daemonJson} ("mtu"): remove one`);
    expect(message).toContain(`--ip-masq is given both as a dockerd flag (in --dockerd-args) and in ${daemonJson} ("ip-masq"): remove one`);
    await expect(stat(daemonJson)).rejects.toThrow(/ENOENT/);
    expect(fake.restarts).toBe(0);
  });

  it('writes the daemon.json the running dockerd reads when no path is given (--config-file)', async () => {
    const request = envRequest({ target: { kind: 'daemon-json' } });
    const fake = createFakeDocker({ reads: { kind: 'daemon-json', path: daemonJson }, running: {}, dockerdArgv: ['/usr/sbin/dockerd', `--config-file=${daemonJson}`] });
    const result = await run(request, fake);
    expect(result).toMatchObject({ target: { kind: 'daemon-json', path: daemonJson }, written: true, restart: 'done' });
    expect(JSON.parse(await readFile(daemonJson, 'utf8'))).toEqual({ bip: '10.1.74.1/24', mtu: 1472, 'ip-masq': false });
  });

  it('refuses to write a daemon.json the running dockerd does not read', async () => {
    const request = jsonRequest();
    const fake = fakeFor(request, { dockerdArgv: ['/usr/sbin/dockerd', '--config-file=/etc/docker/other.json'] });
    await expect(run(request, fake)).rejects.toThrow(`the running dockerd (pid 4242) reads its settings from /etc/docker/other.json (--config-file), not ${daemonJson}`);
  });

  it('reports bad JSON without touching the file', async () => {
    const bad = '{"log-level": "warn",,}';
    await writeFile(daemonJson, bad);
    const before = await stat(daemonJson);
    const request = jsonRequest();
    const fake = fakeFor(request);
    const error = await run(request, fake).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('DAEMON_JSON_INVALID');
    expect((error as Error).message).toMatch(new RegExp(`^${daemonJson} is not valid JSON \\(.*\\): fix it \\(dockerd would refuse it too\\); it was left unchanged$`));
    expect(await readFile(daemonJson, 'utf8')).toBe(bad);
    expect((await stat(daemonJson)).mtimeMs).toBe(before.mtimeMs);
    expect(fake.restarts).toBe(0);
  });
});

describe('waitForSubnetEnv', () => {
  const missing = () => join(dir.path, 'none', 'subnet.env');
  const host = (flanneld: Array<{ pid: number; argv: string[] }>) => ({ flanneldProcesses: async () => flanneld });

  it('returns as soon as flanneld has written the file', async () => {
    const path = join(dir.path, 'later.env');
    setTimeout(() => void writeFile(path, SUBNET_ENV), 100);
    const started = Date.now();
    const env = await waitForSubnetEnv(path, 5000, { pollMs: 20 });
    expect(env.variables['FLANNEL_SUBNET']).toBe('10.1.74.1/24');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('says every few seconds what it waits for and how long it has waited', async () => {
    let clock = 0;
    const log = createRecordingLogger();
    // A fake clock: each poll advances it by a second, so the 12 s wait runs instantly.
    const sleep = async (ms: number) => void (clock += Math.max(ms, 1000));
    await waitForSubnetEnv(missing(), 12_000, { host: host([]), now: () => clock, sleep, log }).catch(() => undefined);
    const lines = log.records.filter((r) => r.message === 'still waiting for subnet.env');
    expect(lines.map((r) => [r.level, r.fields?.['waitedSeconds']])).toEqual([
      ['info', 5],
      ['info', 10],
    ]);
    expect(lines[0]!.fields).toMatchObject({ path: missing(), timeoutSeconds: 12 });
  });

  it('says when no flanneld runs', async () => {
    const error = await waitForSubnetEnv(missing(), 50, { host: host([]), pollMs: 10 }).catch((err: unknown) => err);
    expect((error as DockerSetupError).reason).toBe('SUBNET_ENV_MISSING');
    expect((error as DockerSetupError).code).toBe('CONFIG_NOT_FOUND');
    expect((error as Error).message).toBe(
      `${missing()} did not appear within 0.1 s: flanneld writes it once it holds a subnet lease. No flanneld is running on this host: start it (systemctl start flanneld, or bin/flanneld --etcd-endpoints=...), then run this again.`,
    );
  });

  it('says when flanneld runs without a lease yet', async () => {
    const flanneld = [{ pid: 77, argv: ['node', '/opt/flannel-ts/apps/flanneld/dist/main.js', `-subnet-file=${missing()}`] }];
    await expect(waitForSubnetEnv(missing(), 0, { host: host(flanneld) })).rejects.toThrow(
      `${missing()} did not appear: flanneld writes it once it holds a subnet lease. flanneld (pid 77) runs but has no subnet lease yet: it is probably still waiting for etcd or for the network config; check its log and that the config exists (flannelctl config get).`,
    );
  });

  it('says when flanneld writes another file', async () => {
    const flanneld = [{ pid: 78, argv: ['/usr/local/bin/flanneld', '--subnet-file', '/run/flannel/other.env'] }];
    await expect(waitForSubnetEnv(missing(), 0, { host: host(flanneld) })).rejects.toThrow(
      `flanneld runs but writes its subnet file elsewhere (pid 78 writes /run/flannel/other.env): read that file instead, or start flanneld with --subnet-file=${missing()}.`,
    );
  });
});

import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '@flannel-ts/testkit';
import { parseCommandLine } from '../src/index.js';
import { FLAG_LIST } from '../src/options.js';
import { fakeHost, run, withoutInfo } from './helpers.js';

/** The input file of flannel's TestMkDockerOpts. */
const TEST_ENV = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n';

let dir: TempDir;
let subnetFile: string;
let optsFile: string;

beforeEach(async () => {
  dir = await createTempDir('docker-setup-cli-');
  subnetFile = join(dir.path, 'subnet.env');
  optsFile = join(dir.path, 'docker_opts.env');
  await writeFile(subnetFile, TEST_ENV);
});

afterEach(async () => {
  await dir[Symbol.asyncDispose]();
});

/** mk-docker-opts.sh -f <abs path> -d <abs path> <flags>, with nothing restarted and no real Docker. */
const mkDockerOpts = (flags: readonly string[], env: Record<string, string> = {}, host = fakeHost()) =>
  run(['-f', subnetFile, '-d', optsFile, ...flags, '--no-restart', '--daemon-json-file', join(dir.path, 'daemon.json'), '--wait', '0'], host.deps, env);

describe('help, version and usage errors', () => {
  it('explains each mode with an example, and lists every option', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('Usage: flannel-docker-setup [options]');
    expect(result.stdout).toMatch(/env file \(default\)[\s\S]*flannel-docker-setup -f \/run\/flannel\/subnet.env -d \/run\/flannel\/docker -k DOCKER_NETWORK_OPTIONS/);
    expect(result.stdout).toMatch(/daemon.json {9}Merges[\s\S]*flannel-docker-setup --daemon-json --daemon-json-file \/etc\/docker\/daemon.json/);
    expect(result.stdout).toMatch(/a command {11}--restart-command "CMD"[\s\S]*flannel-docker-setup --restart-command "service docker restart"/);
    expect(result.stdout).toContain('systemctl restart docker');
    expect(result.stdout).toContain('--no-restart');
    for (const spec of FLAG_LIST) expect(result.stdout).toMatch(new RegExp(`^  ${spec.short ? `-${spec.short}, ` : '(    )?'}--${spec.flag}\\b`, 'm'));
    expect(result.stdout).toContain('Exit status: 0 done or nothing to do, 1 failed');
    for (const flag of ['-h', '-?']) expect((await run([flag])).stdout).toBe(result.stdout);
  });

  it('prints the version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, stdout: 'flannel-docker-setup v0.1.0\n', stderr: '' });
  });

  it.each([
    [['--bogus'], 'unknown option --bogus: see flannel-docker-setup --help'],
    [['-x'], "unknown option -x: see flannel-docker-setup --help"],
    [['extra'], 'unexpected argument "extra": flannel-docker-setup takes only options'],
    [['-f'], '-f (--subnet-file) needs a value'],
    [['--wait', 'soon'], '--wait takes a number of seconds (0 or more), got "soon"'],
    [['-k', 'DOCKER OPTS'], '--key takes a shell variable name (letters, digits, _), got "DOCKER OPTS"'],
    [['--daemon-json', '-d', '/run/x', '-i'], '-d, -i shape the env file, but --daemon-json writes daemon.json instead: drop one or the other'],
    [['--no-restart', '--restart-command', 'true'], '--no-restart and --restart-command contradict each other: give one'],
    [['--restart-command', ' '], '--restart-command needs a command'],
    [['--log-level', 'loud'], '--log-level must be one of debug, info, warn, error, got "loud"'],
    [['--json=yes'], '--json takes no value'],
    [['--dockerd-args', '--bip=10.9.0.1/24'], 'the value of --dockerd-args starts with "-": write it as --dockerd-args="..."'],
  ])('exits 2 with the usage for %j', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`error: ${message}`);
    expect(result.stderr).toContain('Usage: flannel-docker-setup [options]');
  });

  it('resolves defaults the way the help says', () => {
    const invocation = parseCommandLine([], { DOCKER_HOST: 'unix:///run/user/docker.sock' });
    expect(invocation.kind).toBe('run');
    if (invocation.kind !== 'run') return;
    expect(invocation.request).toMatchObject({
      subnetFile: '/run/flannel/subnet.env',
      waitMs: 60_000,
      target: { kind: 'env-file', path: '/run/docker_opts.env', format: { individual: true, combined: true, key: 'DOCKER_OPTS' } },
      ipMasq: true,
      bridge: 'docker0',
      dockerPidfile: '/var/run/docker.pid',
      verifyTimeoutMs: 60_000,
    });
    expect(invocation.restart).toEqual({ kind: 'systemd-if-running', unit: 'docker' });
    expect(invocation.dockerHost).toBe('unix:///run/user/docker.sock');
    const json = parseCommandLine(['--daemon-json', '--dockerd-args=--bip 10.9.0.1/24 --debug', '--dockerd-args=-H fd://', '--restart-command', 'rc-service docker restart']);
    if (json.kind !== 'run') throw new Error('expected run');
    expect(json.request.target).toEqual({ kind: 'daemon-json', path: undefined });
    expect(json.request.dockerdArgs).toEqual([
      { label: '--dockerd-args "--bip 10.9.0.1/24 --debug"', args: ['--bip', '10.9.0.1/24', '--debug'] },
      { label: '--dockerd-args "-H fd://"', args: ['-H', 'fd://'] },
    ]);
    expect(json.restart).toEqual({ kind: 'command', command: 'rc-service docker restart' });
  });
});

describe('TestMkDockerOpts (flannel dist/mk_docker_opts_test.go), every row', () => {
  it.each([
    [
      'default (individual + combined)',
      [],
      'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n',
    ],
    ['individual only', ['-i'], 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\n'],
    ['combined only', ['-c'], 'DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n'],
    [
      'custom key',
      ['-k', 'CUSTOM_KEY'],
      'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\nCUSTOM_KEY=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n',
    ],
    ['strip ip-masq', ['-m'], 'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --mtu=1472"\n'],
  ])('%s', async (_name, flags, expected) => {
    const result = await mkDockerOpts(flags);
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe(expected);
  });

  it('takes the long spellings too', async () => {
    expect((await mkDockerOpts(['--individual', '--combined', '--key', 'K', '--no-ip-masq'])).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_MTU="--mtu=1472"\nK=" --bip=10.1.74.1/24 --mtu=1472"\n');
  });
});

describe('mk-docker-opts behaviour seen when running it [run]', () => {
  it('FLANNEL_IPMASQ=true, MTU 1450 -> --ip-masq=false, --mtu=1450', async () => {
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    expect((await mkDockerOpts(['-c'])).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=false --mtu=1450"\n');
  });

  it('-m -c', async () => {
    expect((await mkDockerOpts(['-m', '-c'])).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_OPTS=" --bip=10.1.74.1/24 --mtu=1472"\n');
  });

  it('a preset DOCKER_OPTS=--foo is kept in front of the combined value (two spaces)', async () => {
    expect((await mkDockerOpts(['-c'], { DOCKER_OPTS: '--foo' })).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_OPTS="--foo  --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n');
  });

  it('an IPv6-only subnet.env gives only IPMASQ and MTU', async () => {
    await writeFile(subnetFile, 'FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    expect((await mkDockerOpts([])).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).toBe('DOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1450"\nDOCKER_OPTS=" --ip-masq=true --mtu=1450"\n');
  });

  it('an invalid FLANNEL_IPMASQ exits 1 with a clear message and writes no file', async () => {
    await writeFile(subnetFile, 'FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=enabled\n');
    const result = await mkDockerOpts([]);
    expect(result.code).toBe(1);
    expect(withoutInfo(result.stderr)).toBe(
      `error: invalid value of FLANNEL_IPMASQ in ${subnetFile}: "enabled": it must be true or false (flanneld writes its --ip-masq there); fix the file, or leave ip-masq out with -m\n`,
    );
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
  });

  it('a route that already leads to the subnet exits 1 (and, unlike the script, writes no file)', async () => {
    const host = fakeHost({ routes: [{ dst: '10.1.74.0/24', gateway: '192.0.2.20', dev: 'eth0' }] });
    const result = await mkDockerOpts([], {}, host);
    expect(result.code).toBe(1);
    expect(withoutInfo(result.stderr)).toMatch(/^error: your routing table already contains the subnet 10.1.74.0\/24 \(10.1.74.0\/24 via 192.0.2.20 dev eth0\)/);
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
  });

  it('fixed: a missing subnet.env is an error that names what is missing, not DOCKER_OPTS=""', async () => {
    const result = await run(['-f', join(dir.path, 'none.env'), '-d', optsFile, '--no-restart', '--wait', '0'], fakeHost().deps);
    expect(result.code).toBe(1);
    expect(withoutInfo(result.stderr)).toBe(
      `error: ${join(dir.path, 'none.env')} did not appear: flanneld writes it once it holds a subnet lease. No flanneld is running on this host: start it (systemctl start flanneld, or bin/flanneld --etcd-endpoints=...), then run this again.\n`,
    );
    await expect(stat(optsFile)).rejects.toThrow(/ENOENT/);
  });

  it('fixed: DOCKER_OPT_* variables of the environment are not copied into the file', async () => {
    expect((await mkDockerOpts([], { DOCKER_OPT_DEBUG: '--debug', DOCKER_OPT_ZZZ: '--x' })).code).toBe(0);
    expect(await readFile(optsFile, 'utf8')).not.toMatch(/DEBUG|ZZZ|--debug|--x/);
  });
});

describe('the whole run', () => {
  it('with systemd: writes, removes the stale address, restarts Docker, verifies; a second run does nothing', async () => {
    const host = fakeHost({ envFile: optsFile, systemd: true });
    const argv = ['-f', subnetFile, '-d', optsFile, '--daemon-json-file', join(dir.path, 'daemon.json')];
    const first = await run(argv, host.deps);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      [
        `options: --bip=10.1.74.1/24 --ip-masq=true --mtu=1472 (from ${subnetFile})`,
        `wrote ${optsFile}`,
        'removed stale address 172.17.0.1/16 from the bridge',
        'restarted Docker (systemctl restart docker)',
        'verified: docker0 10.1.74.1/24 mtu 1472, ip-masq true, Docker 20.10.24 answers',
        '',
      ].join('\n'),
    );
    expect(host.calls).toEqual(['ip addr del 172.17.0.1/16 dev docker0', 'systemctl restart docker', 'ip link set docker0 mtu 1472']);

    const second = await run(argv, host.deps);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(
      [
        `options: --bip=10.1.74.1/24 --ip-masq=true --mtu=1472 (from ${subnetFile})`,
        `${optsFile} is up to date`,
        'Docker already runs on these options: nothing restarted',
        'verified: docker0 10.1.74.1/24 mtu 1472, ip-masq true, Docker 20.10.24 answers',
        '',
      ].join('\n'),
    );
    expect(host.calls).toHaveLength(3);
  });

  it('without systemd: restarts with --restart-command, or says a restart is needed', async () => {
    const host = fakeHost({ envFile: optsFile });
    const argv = ['-f', subnetFile, '-d', optsFile, '--daemon-json-file', join(dir.path, 'daemon.json')];
    const noRestart = await run(argv, host.deps);
    expect(noRestart.code).toBe(0);
    expect(noRestart.stdout).toContain(
      `Docker needs a restart to use these options, not done (systemd does not run here and no --restart-command was given): the options in ${optsFile} changed; Docker's bridge network is 172.17.0.0/16`,
    );
    expect(host.calls).toEqual([]);
    const restarted = await run([...argv, '--restart-command', '/usr/local/sbin/restart-docker'], host.deps);
    expect(restarted.stdout).toContain('restarted Docker (restart command "/usr/local/sbin/restart-docker")');
    expect(host.calls).toContain('sh -c /usr/local/sbin/restart-docker');
  });

  it('daemon.json mode with --json output', async () => {
    const daemonJson = join(dir.path, 'daemon.json');
    await writeFile(daemonJson, '{"log-driver": "journald"}\n');
    const host = fakeHost({ daemonJson, systemd: true });
    const result = await run(['-f', subnetFile, '--daemon-json', '--daemon-json-file', daemonJson, '--json'], host.deps);
    expect(result.code, result.stderr).toBe(0);
    const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(parsed).toMatchObject({ written: true, restart: 'done', target: { kind: 'daemon-json', path: daemonJson }, flags: ['--bip=10.1.74.1/24', '--ip-masq=true', '--mtu=1472'] });
    expect(JSON.parse(await readFile(daemonJson, 'utf8'))).toEqual({ 'log-driver': 'journald', bip: '10.1.74.1/24', mtu: 1472, 'ip-masq': true });
  });

  it('exits 1 on a flag/daemon.json conflict, restarting nothing', async () => {
    const daemonJson = join(dir.path, 'daemon.json');
    const host = fakeHost({ daemonJson, systemd: true, dockerdArgv: ['/usr/sbin/dockerd', '-H', 'fd://', '--bip=10.1.74.1/24', `--config-file=${daemonJson}`] });
    const result = await run(['-f', subnetFile, '--daemon-json', '--daemon-json-file', daemonJson], host.deps);
    expect(result.code).toBe(1);
    expect(withoutInfo(result.stderr)).toMatch(new RegExp(`^error: --bip is given both as a dockerd flag \\(in the running dockerd \\(pid 99\\)\\) and in ${daemonJson} \\("bip"\\): remove one\\.`));
    expect(host.calls).toEqual([]);
  });

  it('logs its steps on stderr with --log-level info, keeping stdout for the outcome', async () => {
    const result = await mkDockerOpts(['--log-level', 'info']);
    expect(result.stderr).toMatch(/ info flannel-docker-setup\/docker-setup docker options subnetFile=\S+ flags="--bip=10.1.74.1\/24 --ip-masq=true --mtu=1472"/);
    expect(result.stdout.split('\n')[0]).toBe(`options: --bip=10.1.74.1/24 --ip-masq=true --mtu=1472 (from ${subnetFile})`);
  });
});

/** The real bin/flannel-docker-setup, as a unit or a user runs it (no Docker needed: nothing is restarted). */
import { readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '@flannel-ts/testkit';
import { assertBuilt, binPath, spawnBin } from './helpers.js';

let dir: TempDir;

beforeAll(async () => {
  assertBuilt();
  dir = await createTempDir('docker-setup-bin-');
  await writeFile(join(dir.path, 'subnet.env'), 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n');
});

afterAll(async () => {
  await dir?.[Symbol.asyncDispose]();
});

/** Keeps the run away from this machine's Docker: its own socket, pidfile, daemon.json and bridge name. */
const isolated = () => [
  '--no-restart',
  '--docker-host', `unix://${join(dir.path, 'no-docker.sock')}`,
  '--docker-pidfile', join(dir.path, 'no-docker.pid'),
  '--daemon-json-file', join(dir.path, 'daemon.json'),
  '--bridge', 'ftnodocker0',
];

describe('bin/flannel-docker-setup', () => {
  it('prints help and exits 0; a usage error exits 2', async () => {
    const help = await spawnBin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Modes:');
    const usage = await spawnBin(['--frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe('error: unknown option --frobnicate: see flannel-docker-setup --help\nUsage: flannel-docker-setup [options]\nRun `flannel-docker-setup --help` for the modes and options.\n');
  });

  it('writes the mk-docker-opts file from a relative -f path (the script needed ./file)', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(binPath, ['-f', 'subnet.env', '-d', 'docker_opts.env', ...isolated()], { cwd: dir.path });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(dir.path, 'docker_opts.env'), 'utf8')).toBe(
      'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n',
    );
    expect(result.stdout).toContain('wrote docker_opts.env');
    expect(result.stdout).toMatch(/Docker needs a restart to use these options, not done \(--no-restart\): the options in docker_opts.env changed; Docker does not answer on unix:\/\/\S+no-docker.sock \(connect ENOENT/);
  });

  it('exits 1 after --wait when no subnet.env comes, saying why', async () => {
    const started = Date.now();
    const result = await spawnBin(['-f', join(dir.path, 'missing.env'), '--wait', '0.5', ...isolated()]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(result.stderr).toMatch(/^\S+Z info flannel-docker-setup\/docker-setup waiting for subnet.env /);
    expect(result.stderr).toMatch(/^error: \S+missing.env did not appear within 0.5 s: flanneld writes it once it holds a subnet lease\. /m);
  });
});

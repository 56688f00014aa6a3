/**
 * The built executable (what bin/flannel runs and `flannel install` copies): one CommonJS file that loads Node's
 * built-in modules and nothing else, whatever the command.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isBuiltin } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BUNDLE } from './built.js';

const LAUNCHER = fileURLToPath(new URL('../../../bin/flannel', import.meta.url));
const execFileAsync = promisify(execFile);

let dir: string;
let preload: string;

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'cni-bin-'));
  // Records every module the bundle asks for; printed on exit.
  preload = join(dir, 'record-requires.cjs');
  await writeFile(preload, `const M = require('module'); const seen = new Set(); const load = M._load;
M._load = function (request, parent, isMain) { if (!isMain) seen.add(request); return load.apply(this, arguments); };
process.on('exit', () => process.stderr.write('REQUIRES ' + JSON.stringify([...seen]) + '\\n'));\n`);
  await writeFile(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runBundle(env: Record<string, string>, stdin = '', args: string[] = []) {
  const child = execFileAsync(process.execPath, ['--require', preload, BUNDLE, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } });
  child.child.stdin?.end(stdin);
  const { stdout, stderr } = await child.catch((err: { stdout: string; stderr: string; code: number }) => err);
  const requires = JSON.parse(/REQUIRES (.*)/.exec(stderr)?.[1] ?? '[]') as string[];
  return { stdout, stderr, requires };
}

describe('the built plugin', () => {
  it('is one file with no bundled etcd3, grpc, prom-client or koffi', async () => {
    const text = await readFile(BUNDLE, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    for (const heavy of ['etcd3', '@grpc/grpc-js', 'prom-client', 'koffi']) expect(text).not.toContain(`require("${heavy}`);
  });

  it.each([
    ['VERSION', {}, /"supportedVersions"/],
    ['ADD (fails: no delegate in CNI_PATH)', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x', CNI_NETNS: '/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, /failed to find plugin \\"bridge\\"/],
    ['DEL', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'x', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, /^$/],
  ])('%s loads only Node built-ins', async (_, env: Record<string, string>, output: RegExp) => {
    const subnetFile = join(dir, 'subnet.env');
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'flannel', subnetFile, dataDir: join(dir, 'data') });
    const r = await runBundle({ CNI_COMMAND: 'VERSION', ...env }, conf);
    expect(r.stdout).toMatch(output);
    expect(r.requires.length).toBeGreaterThan(0);
    expect(r.requires.filter((m) => !isBuiltin(m))).toEqual([]);
  });

  it('loads per command: VERSION no operation at all, DEL not the subnet.env reader (crypto comes with it)', async () => {
    const version = await runBundle({ CNI_COMMAND: 'VERSION' });
    expect(version.requires).not.toContain('child_process');
    expect(version.requires).not.toContain('crypto');
    const del = await runBundle({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'x', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'flannel', dataDir: join(dir, 'data') }));
    expect(del.requires).toContain('child_process');
    expect(del.requires).not.toContain('crypto');
    const add = await runBundle({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x', CNI_NETNS: '/none', CNI_IFNAME: 'eth0', CNI_PATH: '/nonexistent' }, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'flannel', subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'data') }));
    expect(add.requires).toEqual(expect.arrayContaining(['child_process', 'crypto']));
  });

  it('bin/flannel runs it: VERSION, about text, --help, usage error', async () => {
    const version = await execFileAsync(LAUNCHER, [], { env: { ...process.env, CNI_COMMAND: 'VERSION' } });
    expect(JSON.parse(version.stdout)).toMatchObject({ cniVersion: '1.0.0' });
    const about = await execFileAsync(LAUNCHER, [], { env: { PATH: process.env['PATH'] ?? '' } });
    expect(about.stderr).toContain('CNI Plugin flannel version');
    expect((await execFileAsync(LAUNCHER, ['--help'])).stdout).toContain('flannel install [--dir DIR]');
    const bad = await execFileAsync(LAUNCHER, ['bogus']).catch((err: { code: number; stderr: string }) => err);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "bogus"') });
  });
});

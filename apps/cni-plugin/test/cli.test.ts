/**
 * The protocol edge, in-process: CNI error JSON (spec codes, the config's cniVersion), VERSION, what happens
 * before any delegate runs, and the operator commands. Runs with real files in a temp directory; the delegate
 * runs for real in the netns tests.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runPlugin } from '../src/cli.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cni-cli-'));
  await writeFile(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  await mkdir(join(dir, 'plugins'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function invoke(env: Record<string, string>, stdin = '', argv: string[] = []) {
  let stdout = '';
  let stderr = '';
  const code = await runPlugin(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
    readStdin: async () => stdin,
    executable: join(dir, 'bundle.js'),
    nodePath: process.execPath,
  });
  const json = env['CNI_COMMAND'] && stdout ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
  return { code, stdout, stderr, json };
}

const conf = (extra: object = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'testnet', type: 'flannel', subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'data'), ...extra });
const runtimeEnv = (command: string) => ({ CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/none', CNI_IFNAME: 'eth0', CNI_PATH: join(dir, 'plugins') });

describe('CNI protocol errors', () => {
  it('VERSION lists the spec versions', async () => {
    const r = await invoke({ CNI_COMMAND: 'VERSION' });
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  });

  it('missing environment: code 4 naming the variables', async () => {
    const r = await invoke({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0' }, conf());
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', code: 4, msg: 'required env variables [CNI_CONTAINERID CNI_NETNS CNI_PATH] missing' });
  });

  it('DEL does not need CNI_NETNS (the container may be gone)', async () => {
    const { CNI_NETNS: _, ...env } = runtimeEnv('DEL');
    expect(await invoke(env, conf())).toMatchObject({ code: 0, stdout: '' });
  });

  it('unknown command: code 4', async () => {
    expect((await invoke(runtimeEnv('GC'), conf())).json).toMatchObject({ code: 4, msg: 'unknown CNI_COMMAND: GC' });
  });

  it('the error answers in the config\'s cniVersion', async () => {
    const r = await invoke(runtimeEnv('ADD'), conf({ cniVersion: '0.3.1', delegate: { name: 'x' } }));
    expect(r.json).toMatchObject({ cniVersion: '0.3.1', code: 7, msg: "'delegate' dictionary must not have 'name' field, it'll be set by flannel" });
  });

  it('a config without cniVersion means 0.1.0 (the spec\'s default), and is answered in it', async () => {
    const r = await invoke(runtimeEnv('ADD'), JSON.stringify({ name: 'n', type: 'flannel', delegate: { ipam: {} } }));
    expect(r.json).toMatchObject({ cniVersion: '0.1.0', code: 7 });
  });

  it('an unsupported version: code 1, answered in 1.0.0', async () => {
    const r = await invoke(runtimeEnv('ADD'), conf({ cniVersion: '2.0.0' }));
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', code: 1, msg: expect.stringContaining('incompatible CNI versions; config is "2.0.0"') });
  });

  it('stdin not JSON: code 6', async () => {
    expect((await invoke(runtimeEnv('ADD'), 'name=x')).json).toMatchObject({ code: 6, msg: expect.stringContaining('network config on stdin is not JSON') });
  });

  it('a container ID that is not a plain name: code 4, nothing written', async () => {
    const r = await invoke({ ...runtimeEnv('ADD'), CNI_CONTAINERID: '../../etc/passwd' }, conf());
    expect(r.json).toMatchObject({ code: 4, msg: expect.stringContaining('invalid characters in CNI_CONTAINERID') });
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('subnet.env missing after the wait: code 11, said on stderr', async () => {
    const r = await invoke(runtimeEnv('ADD'), conf({ subnetFile: join(dir, 'none.env'), subnetFileWaitSeconds: 0.2 }));
    expect(r.json).toMatchObject({ code: 11, msg: expect.stringContaining('does not exist after waiting 0.2s: is flanneld running?') });
    expect(r.stderr).toContain('waiting up to 0.2s for flanneld');
  });

  it('malformed subnet.env: code 6 naming the variable', async () => {
    await writeFile(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=big\nFLANNEL_IPMASQ=true\n');
    expect((await invoke(runtimeEnv('ADD'), conf())).json).toMatchObject({ code: 6, msg: expect.stringContaining('FLANNEL_MTU in') });
  });

  it('delegate not in CNI_PATH: code 4, and no config saved (so DEL has nothing to fail on)', async () => {
    const r = await invoke(runtimeEnv('ADD'), conf());
    expect(r.json).toMatchObject({ code: 4, msg: `failed to find plugin "bridge" in path [${join(dir, 'plugins')}]` });
    expect(existsSync(join(dir, 'data', 'c1'))).toBe(false);
  });

  it('a delegate type with a slash is refused: code 7', async () => {
    expect((await invoke(runtimeEnv('ADD'), conf({ delegate: { type: '../bin/sh' } }))).json).toMatchObject({ code: 7, msg: expect.stringContaining('is not a plugin name') });
  });

  it('a delegate failing: its code and message, prefixed; the saved config stays for DEL', async () => {
    const fake = join(dir, 'plugins', 'bridge');
    await writeFile(fake, '#!/bin/sh\ncat >/dev/null\necho \'{"cniVersion":"1.0.0","code":7,"msg":"bad bridge","details":"d"}\'\nexit 1\n');
    await chmod(fake, 0o755);
    const r = await invoke(runtimeEnv('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'failed to delegate add: bridge: bad bridge', details: 'd' });
    expect(existsSync(join(dir, 'data', 'c1'))).toBe(true);
  });

  it('a delegate failing without a CNI error: code 999 with what it printed', async () => {
    const fake = join(dir, 'plugins', 'bridge');
    await writeFile(fake, '#!/bin/sh\necho "segfault, sort of" >&2\nexit 3\n');
    await chmod(fake, 0o755);
    const r = await invoke(runtimeEnv('ADD'), conf());
    expect(r.json).toMatchObject({ code: 999, msg: 'failed to delegate add: bridge exited with status 3: segfault, sort of' });
    expect(r.stderr).toContain('segfault, sort of');
  });

  it('DEL without a saved config succeeds, twice', async () => {
    expect(await invoke(runtimeEnv('DEL'), conf())).toMatchObject({ code: 0, stdout: '' });
    expect(await invoke(runtimeEnv('DEL'), conf())).toMatchObject({ code: 0, stdout: '' });
  });

  it('DEL with a corrupt saved config removes it and says so', async () => {
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'c1'), '{"trunc');
    const r = await invoke(runtimeEnv('DEL'), conf());
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('is not a network config; removed it');
    expect(existsSync(join(dir, 'data', 'c1'))).toBe(false);
  });

  it('CHECK: needs 0.4.0+, a prevResult, and a container it added', async () => {
    expect((await invoke(runtimeEnv('CHECK'), conf({ cniVersion: '0.3.1', prevResult: {} }))).json).toMatchObject({ code: 1, msg: expect.stringContaining('config version does not allow CHECK') });
    expect((await invoke(runtimeEnv('CHECK'), conf())).json).toMatchObject({ code: 7, msg: expect.stringContaining('CHECK needs "prevResult"') });
    expect((await invoke(runtimeEnv('CHECK'), conf({ prevResult: {} }))).json).toMatchObject({ code: 3, msg: expect.stringContaining('container c1 is unknown to flannel') });
  });
});

describe('operator commands', () => {
  it('no command and no CNI_COMMAND: says what it is on stderr (as libcni skel), exit 0', async () => {
    const r = await invoke({});
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^CNI Plugin flannel version \d+\.\d+\.\d+ \(flannel-ts\)\nCNI protocol versions supported: 0\.1\.0, .*1\.0\.0\n/);
  });

  it('--help documents every config field and the exit codes', async () => {
    const r = await invoke({}, '', ['--help']);
    expect(r.code).toBe(0);
    for (const word of ['install [--dir DIR]', 'subnetFile', 'dataDir', 'delegate', 'ipam', 'subnetFileWaitSeconds', '/opt/cni/bin', 'Exit status']) expect(r.stdout).toContain(word);
  });

  it('usage errors exit 2', async () => {
    expect(await invoke({}, '', ['frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "frobnicate"') });
    expect(await invoke({}, '', ['install', '--bogus'])).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
    expect(await invoke({}, '', ['install', 'x'])).toMatchObject({ code: 2 });
  });

  it('install copies the bundle with a #! naming this node, mode 0755, creating the directory', async () => {
    await writeFile(join(dir, 'bundle.js'), '#!/usr/bin/env node\nconsole.log("plugin");\n');
    const target = join(dir, 'opt', 'cni', 'bin');
    const r = await invoke({}, '', ['install', '--dir', target]);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringContaining(`installed ${join(target, 'flannel')}`) });
    expect(await readFile(join(target, 'flannel'), 'utf8')).toBe(`#!${process.execPath}\nconsole.log("plugin");\n`);
    expect((await stat(join(target, 'flannel'))).mode & 0o777).toBe(0o755);
  });

  it('install fails clearly (exit 1) when the bundle is not built, or --node is relative', async () => {
    expect(await invoke({}, '', ['install', '--dir', dir])).toMatchObject({ code: 1, stderr: expect.stringContaining('build it first') });
    expect(await invoke({}, '', ['install', '--dir', dir, '--node', 'node'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--node must be an absolute path') });
  });
});

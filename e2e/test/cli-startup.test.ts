/**
 * The three tools as an operator meets them: `--version` prints `<tool> v<version>` on stdout; `--help` and
 * `--version` load neither etcd3 nor grpc (they answer at once, and cannot fail on a library); the build wrote a
 * man page for each from the same option table as --help, naming every option.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '@flannel-ts/lab';

const exec = promisify(execFile);
const REPO = new URL('../..', import.meta.url).pathname;
const TOOLS = [
  { name: 'flanneld', bin: BIN.flanneld, app: 'flanneld' },
  { name: 'flannelctl', bin: BIN.flannelctl, app: 'flannelctl' },
  { name: 'flannel-docker-setup', bin: join(REPO, 'bin', 'flannel-docker-setup'), app: 'flannel-docker-setup' },
] as const;

// Preloaded into each run: at exit, names the heavy CommonJS libraries that were loaded.
const dir = mkdtempSync(join(tmpdir(), 'cli-startup-'));
const hook = join(dir, 'loaded.cjs');
// The apps bundle etcd3 and grpc into dist/etcd3.cjs; unbundled they are node_modules/etcd3/, .../@grpc/.
writeFileSync(hook, `process.on('exit', () => { const heavy = Object.keys(require.cache).filter((k) => /[\\\\/](etcd3|@grpc)([\\\\/]|\\.cjs$)/.test(k)); process.stderr.write('loaded:' + heavy.length + '\\n'); });\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What the help path must not evaluate: ip-num, the full entries of core, subnet-env and docker-integration (their
 * light entries are core/command-line, subnet-env/paths, docker-integration/options), the store, kernel and backend
 * packages, and each app's own command code (flannelctl's run/, flanneld's resolve and daemon, the setup command).
 */
const HEAVY_MODULE = /ip-num|(core|subnet-env|docker-integration)\/dist\/index\.js|lease-manager|host-net|backend-(udp|vxlan|host-gw)|backends\/dist\/index\.js|[\\/]run[\\/]|src\/(resolve|daemon)\.ts|commands\/setup\.ts/;

/** `entry` and every file it imports statically (not `import()`), transitively: what runs before main does. */
function staticImports(dist: string, entry: string, seen = new Set<string>()): string[] {
  const file = join(dist, entry);
  if (seen.has(file)) return [];
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const [, next] of text.matchAll(/^(?:import|export)\b[^;]*?["']\.\/([^"']+)["'];?$/gms)) staticImports(dist, next!, seen);
  return [...seen];
}

describe('the three tools start light and speak one way', () => {
  for (const tool of TOOLS) {
    it(`${tool.name} --version and --help`, async () => {
      const version = await exec(tool.bin, ['--version'], { env: { ...process.env, NODE_OPTIONS: `--require ${hook}` } });
      expect(version.stdout).toMatch(new RegExp(`^${tool.name} v\\d+\\.\\d+\\.\\d+\\n$`));
      expect(version.stderr).toBe('loaded:0\n');
      const help = await exec(tool.bin, ['--help'], { env: { ...process.env, NODE_OPTIONS: `--require ${hook}` } });
      expect(help.stdout).toMatch(new RegExp(`^${tool.name} v\\d+\\.\\d+\\.\\d+: `));
      expect(help.stdout).toMatch(/^Usage: /m);
      expect(help.stdout).toMatch(/^Exit status: /m);
      expect(help.stderr).toBe('loaded:0\n');
    });

    it(`${tool.name} --help and --version read no IP, etcd, backend or command code: what dist/main.js imports statically`, () => {
      const files = staticImports(join(REPO, 'apps', tool.app, 'dist'), 'main.js');
      // esbuild heads each bundled module with a `// <path>` line: the modules evaluated before main runs.
      const modules = files.flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/^\/\/ (\S+\.(?:[cm]?js|ts))$/gm)].map((m) => m[1]!));
      expect(modules).toContain('src/help.ts');
      expect(modules.filter((m) => HEAVY_MODULE.test(m))).toEqual([]);
    });

    it(`${tool.name}: the build wrote its man page from the same options`, async () => {
      const page = readFileSync(join(REPO, 'apps', tool.app, 'dist', 'man', `${tool.name}.8`), 'utf8');
      expect(page.startsWith(`.TH ${tool.name.toUpperCase()} 8 `)).toBe(true);
      const help = (await exec(tool.bin, ['--help'])).stdout;
      // Every long option --help lists is in the man page (roff escapes its dashes).
      for (const [flag] of help.matchAll(/(?<=^\s+(?:-\w, )?)--[a-z][a-z0-9_-]*/gm)) expect(page, flag).toContain(flag.replace(/-/g, '\\-'));
    });
  }

  it('flanneld starts node with its malloc settings (the sh launcher on main.js), with no node flag', async () => {
    const probe = join(dir, 'env.cjs');
    writeFileSync(probe, `process.on('exit', () => process.stderr.write('env:' + ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_'].map((k) => process.env[k]).join(',') + ' argv:' + process.execArgv.join(' ') + '\\n'));\n`);
    const env = { ...process.env, NODE_OPTIONS: `--require ${probe}` };
    for (const name of ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_']) delete env[name];
    const run = await exec(BIN.flanneld, ['--version'], { env });
    expect(run.stdout).toMatch(/^flanneld v/);
    expect(run.stderr).toBe('env:2,65536,131072 argv:\n');
  });

  it('a command that talks to etcd does load it (the check above can see it), through the code cache the build wrote', async () => {
    const failed = await exec(BIN.flannelctl, ['config', 'get', '--etcd-endpoints=http://127.0.0.1:9'], { env: { ...process.env, NODE_OPTIONS: `--require ${hook}` } }).catch((err: { stderr: string }) => err);
    expect(failed.stderr).toMatch(/cannot reach etcd at http:\/\/127\.0\.0\.1:9/);
    expect(failed.stderr).toMatch(/loaded:1\n$/);
    // V8 takes the cache only under the flags it was made with: each app's own (flanneld's #! line has some).
    for (const app of ['flanneld', 'flannelctl']) {
      expect((await exec(process.execPath, [join(REPO, 'scripts', 'write-code-cache.mjs'), '--check', join(REPO, 'apps', app, 'dist')])).stdout, app).toBe('used\n');
    }
  });
});

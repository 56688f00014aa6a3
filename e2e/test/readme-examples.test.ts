/**
 * The READMEs' library examples run as written: the first `ts` block of a package README is run (with tsx, from
 * the package's directory, so its imports resolve as a user's would) and what it prints must be the README's
 * "Output" block. Only a timestamp, and a subnet chosen at random, may differ. The lease-manager example runs
 * against a test etcd (its endpoint is the one thing replaced). `scripts/demo.sh --help` prints its help before
 * any setup.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startEtcd } from '@flannel-ts/testkit';

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = join(REPO, 'packages', 'lab', 'node_modules', '.bin', 'tsx');

interface Example {
  readonly code: string;
  readonly output: string;
}

/** The first ```ts block and the block after the "Output" line that follows it. */
function firstExample(readme: string): Example {
  const code = /```ts\n([\s\S]*?)\n```/.exec(readme);
  if (!code) throw new Error('no ts block');
  const rest = readme.slice(code.index + code[0].length);
  const output = /^Output[^\n]*\n+```\n([\s\S]*?)\n```/m.exec(rest);
  if (!output) throw new Error('no Output block after the example');
  return { code: code[1]!, output: output[1]! };
}

/** Timestamps and a randomly chosen /24 are the only parts of an output that may differ between runs. */
function normalize(text: string): string {
  return text
    .trim()
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/10\.1\.\d+\.0-24/g, '10.1.<n>.0-24');
}

async function runExample(dir: string, code: string): Promise<{ stdout: string; stderr: string }> {
  const file = join(REPO, dir, `.readme-example-${process.pid}.mts`);
  writeFileSync(file, code);
  try {
    return await exec(TSX, [file], { cwd: join(REPO, dir), timeout: 60_000 });
  } finally {
    rmSync(file, { force: true });
  }
}

describe('README examples', () => {
  for (const dir of ['packages/core', 'packages/subnet-env', 'packages/backends']) {
    it(`${dir}/README.md prints its Output block`, async () => {
      const example = firstExample(readFileSync(join(REPO, dir, 'README.md'), 'utf8'));
      const { stdout } = await runExample(dir, example.code);
      expect(normalize(stdout)).toBe(normalize(example.output));
    });
  }

  it('packages/lease-manager/README.md prints its Output block against an empty etcd', async () => {
    await using etcd = await startEtcd();
    const example = firstExample(readFileSync(join(REPO, 'packages/lease-manager/README.md'), 'utf8'));
    const written = /endpoints: \['(http:\/\/127\.0\.0\.1:\d+)'\]/.exec(example.code)?.[1];
    expect(written).toBeDefined();
    const { stdout, stderr } = await runExample('packages/lease-manager', example.code.replace(written!, etcd.endpoint));
    // The README shows the log line (stderr) first, then what the example prints.
    expect(normalize(`${stderr}${stdout}`)).toBe(normalize(example.output));
  });

  it('scripts/demo.sh --help prints its help before any setup', async () => {
    // A PATH with only what printing help needs: had it gone on to set up (apt-get, pnpm, node), it would fail.
    const bin = mkdtempSync(join(tmpdir(), 'demo-help-'));
    try {
      for (const tool of ['bash', 'cat', 'dirname']) symlinkSync((await exec('bash', ['-c', `command -v ${tool}`])).stdout.trim(), join(bin, tool));
      const started = Date.now();
      const { stdout } = await exec(join(bin, 'bash'), [join(REPO, 'scripts/demo.sh'), '--help'], { env: { PATH: bin } });
      expect(stdout).toMatch(/^Usage: bash scripts\/demo\.sh \[--backend udp\|vxlan\|host-gw\]/);
      expect(stdout).toContain('--docker-mode');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

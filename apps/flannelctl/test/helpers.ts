import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli, type CliIo } from '../src/index.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Record<string, string | undefined>;
  readonly stdin?: string;
  readonly now?: () => number;
  readonly etcdDeadlineMs?: number;
}

/** Runs flannelctl in-process with captured streams. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    stdin: options.stdin === undefined ? undefined : Readable.from([Buffer.from(options.stdin)]),
    env: options.env ?? {},
    now: options.now,
    etcdDeadlineMs: options.etcdDeadlineMs,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const binPath = join(appDir, '..', '..', 'bin', 'flannelctl');

/** Fails clearly when dist/ is missing or older than src/ (the spawned bin runs the build). */
export function assertBuilt(): void {
  const main = join(appDir, 'dist', 'main.js');
  if (!existsSync(main)) throw new Error('apps/flannelctl/dist/main.js is missing: run `pnpm build` in apps/flannelctl first');
  const built = statSync(main).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (newest(join(appDir, 'src')) > built) throw new Error('apps/flannelctl/dist is older than src: run `pnpm build` in apps/flannelctl first');
}

/** Runs the real bin/flannelctl as a child process. */
export function spawnCli(argv: readonly string[], options: { env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env };
    const child = spawn(binPath, [...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(options.stdin ?? '');
  });
}

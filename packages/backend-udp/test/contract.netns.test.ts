/**
 * The backend contract (testkit) for udp, in a namespace. The udp backend opens its TUN device in the namespace of
 * its own process, so the cases run in a vitest started inside the namespace (`ip netns exec`): test/in-netns.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createContractNamespace } from '@flannel-ts/testkit';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const PEER_ADDRESSES = ['192.0.2.31', '192.0.2.32', '192.0.2.33', '192.0.2.34', '192.0.2.62'];

describe('udp backend contract', () => {
  it('passes every case against a recording host and against the namespace', async () => {
    expect(existsSync(new URL('../dist/datapath-worker.js', import.meta.url)), 'build the package first (pnpm build): the cases run dist/').toBe(true);
    await using ns = await createContractNamespace(PEER_ADDRESSES);
    const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile('ip', ['netns', 'exec', ns.name, process.execPath, vitest, 'run', '--config', 'test/in-netns/vitest.config.ts'], { cwd: PACKAGE_DIR, timeout: 120_000, env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' } }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    expect(output).toMatch(/Tests\s+7 passed \(7\)/);
    expect(code, output).toBe(0);
  }, 150_000);
});

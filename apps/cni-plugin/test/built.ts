import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const appDir = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = join(appDir, 'dist', 'flannel.cjs');

/** The tests that run the built plugin say so clearly when it is missing or older than src. */
export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error('apps/cni-plugin/dist/flannel.cjs is missing: run `pnpm build` first');
  const newest = (dir: string): number =>
    Math.max(...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  if (newest(join(appDir, 'src')) > statSync(BUNDLE).mtimeMs) throw new Error('apps/cni-plugin/dist is older than src: run `pnpm build` first');
}

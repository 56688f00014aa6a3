/**
 * `flannel install`: copies this one-file bundle to `<dir>/flannel` (default /opt/cni/bin, where runtimes look),
 * with a `#!` line naming the Node.js that ran the install. Runtimes start plugins with a minimal environment, so
 * the copy must not depend on PATH finding `node`. The copy is written atomically (mode 0755): a runtime starting
 * the plugin during a reinstall runs either the old file or the new one, never half of one.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { writeFileAtomic } from '@flannel-ts/subnet-env';
import { CNI_CODE, CniError } from './cni-error.js';

export interface InstallRequest {
  readonly source: string;
  readonly dir: string;
  readonly nodePath: string;
}

export async function installPlugin(request: InstallRequest): Promise<string> {
  if (!isAbsolute(request.nodePath)) {
    throw new CniError(CNI_CODE.INVALID_CONFIG, `--node must be an absolute path (a runtime runs plugins without a useful PATH), got "${request.nodePath}"`);
  }
  let bundle: string;
  try {
    bundle = await readFile(request.source, 'utf8');
  } catch (err) {
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot read the plugin bundle ${request.source}: ${(err as Error).message}; build it first (pnpm build)`);
  }
  const body = bundle.startsWith('#!') ? bundle.slice(bundle.indexOf('\n') + 1) : bundle;
  const target = join(request.dir, 'flannel');
  try {
    await writeFileAtomic(target, `#!${request.nodePath}\n${body}`, 0o755);
  } catch (err) {
    throw new CniError(CNI_CODE.IO_FAILURE, (err as Error).message);
  }
  return target;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

export async function createTempDir(prefix = 'flannel-ts-', base = tmpdir()): Promise<TempDir> {
  const path = await mkdtemp(join(base, prefix));
  return {
    path,
    [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }),
  };
}

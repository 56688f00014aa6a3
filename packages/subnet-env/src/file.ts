import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { FlannelError } from '@flannel-ts/core';
import { formatSubnetEnv, parseSubnetEnv, type SubnetEnv, type SubnetEnvFile } from './subnet-env.js';

/**
 * Writes subnet.env atomically: a temp file in the same directory, fsync, chmod 0644 (whatever the umask),
 * rename over the target. Readers never see a half-written file. The directory is created (0755) if missing.
 */
export async function writeSubnetEnv(path: string, env: SubnetEnv): Promise<void> {
  await writeFileAtomic(path, formatSubnetEnv(env), 0o644);
}

export async function writeFileAtomic(path: string, content: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new FlannelError('FILE_IO_FAILED', `cannot write ${path}: ${(err as Error).message}; check the directory exists and is writable`, { cause: err });
  }
}

/** Reads a subnet.env; undefined when the file does not exist. Other read errors throw. */
export async function readSubnetEnv(path: string): Promise<SubnetEnvFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FlannelError('FILE_IO_FAILED', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseSubnetEnv(text);
}

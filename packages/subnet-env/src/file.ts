import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, basename, resolve } from 'node:path';
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
  await ensureDirectory(dir, path);
  try {
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

/**
 * Checks, without writing the file itself, that `path` can be written: its directory exists or can be created
 * (0755), a file can be created in it, and `path` is not a directory. flanneld runs this before it takes a lease,
 * so a bad --subnet-file fails at once instead of after the lease is taken.
 */
export async function checkWritable(path: string): Promise<void> {
  const dir = dirname(path);
  await ensureDirectory(dir, path);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new FlannelError('FILE_IO_FAILED', `cannot write ${path}: it is a directory; give a file path such as ${join(path, 'subnet.env')}`);
  const probe = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.probe`);
  try {
    await (await open(probe, 'wx', 0o600)).close();
  } catch (err) {
    throw new FlannelError('FILE_IO_FAILED', `cannot write ${path}: cannot create a file in ${dir} (${describeErrno(err)}); make the directory writable or choose another path`, { cause: err });
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}

/**
 * `mkdir -p`, one level at a time. Not `mkdir(dir, { recursive: true })`: Node's native recursive mkdir takes
 * ENOENT to mean "the parent is missing", creates the parent (EEXIST: fine) and retries, forever, when the parent
 * exists but cannot hold the child (procfs and sysfs answer ENOENT for any new name, e.g. /proc/nope): the call
 * never settles and spins a CPU. It also reports a parent that is a regular file as EEXIST. Here a failure names
 * the directory and the reason, once.
 */
async function ensureDirectory(dir: string, forPath: string): Promise<void> {
  const absolute = resolve(dir);
  const parts = absolute.split('/').filter((part) => part !== '');
  let current = '';
  for (const part of parts) {
    current = `${current}/${part}`;
    const found = await stat(current).catch((err: NodeJS.ErrnoException) => err);
    if (!(found instanceof Error)) {
      if (found.isDirectory()) continue;
      throw new FlannelError('FILE_IO_FAILED', `cannot write ${forPath}: ${current} is a file, not a directory; remove it or choose another path`);
    }
    if (found.code !== 'ENOENT') throw new FlannelError('FILE_IO_FAILED', `cannot write ${forPath}: cannot look at ${current} (${describeErrno(found)})`, { cause: found });
    try {
      await mkdir(current, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new FlannelError('FILE_IO_FAILED', `cannot write ${forPath}: cannot create directory ${current} (${describeErrno(err)}); create it yourself or choose another path`, { cause: err });
    }
  }
}

function describeErrno(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'the file system does not allow creating it (e.g. /proc or /sys)',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a parent is not a directory',
    ENOSPC: 'no space left on device',
  };
  return code !== undefined && reasons[code] ? `${code}: ${reasons[code]}` : (err as Error).message;
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

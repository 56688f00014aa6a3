/**
 * The delegate config saved at ADD under `dataDir/<container id>` (flannel's layout: directory 0700, file 0600),
 * used and removed at DEL. A host can therefore change the plugin's config, or switch between flannel's plugin and
 * this one, with containers running: each container is torn down with the config it was set up with.
 *
 * Unlike flannel the file is written atomically (temp + fsync + rename), so a crash mid-ADD never leaves a
 * truncated config for DEL, and the container ID is checked before it becomes a path.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CNI_CODE, CniError } from './cni-error.js';
import { isJsonObject, type JsonObject } from './net-conf.js';

/** libcni's rule for container IDs; it also keeps the ID from escaping dataDir. */
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function checkContainerId(id: string): void {
  if (!CONTAINER_ID.test(id)) {
    throw new CniError(CNI_CODE.INVALID_ENVIRONMENT, `invalid characters in CNI_CONTAINERID ${JSON.stringify(id)}: use letters, digits, "_", "." and "-", starting with a letter or digit`, id);
  }
}

export function savedConfigPath(dataDir: string, containerId: string): string {
  return join(dataDir, containerId);
}

export async function saveDelegateConfig(dataDir: string, containerId: string, config: string): Promise<void> {
  const path = savedConfigPath(dataDir, containerId);
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // Loaded here, not at the top: DEL and CHECK read and remove, and need none of subnet-env.
    const { writeFileAtomic } = await import('@flannel-ts/subnet-env');
    await writeFileAtomic(path, config, 0o600);
  } catch (err) {
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot save the delegate config to ${path}: ${(err as Error).message}`, 'check "dataDir" in the network config is a writable directory');
  }
}

/** The saved config's text, or undefined when there is none (never added, or already deleted). */
export async function loadDelegateConfig(dataDir: string, containerId: string): Promise<string | undefined> {
  const path = savedConfigPath(dataDir, containerId);
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(CNI_CODE.IO_FAILURE, `cannot read the saved delegate config ${path}: ${(err as Error).message}`);
  }
}

export async function removeDelegateConfig(dataDir: string, containerId: string): Promise<void> {
  await rm(savedConfigPath(dataDir, containerId), { force: true });
}

/** The saved config as an object, or undefined when it is not a network config (a `type` is the least). */
export function decodeSavedConfig(text: string): JsonObject | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return isJsonObject(value) && typeof value['type'] === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What every CNI operation gets: the runtime's request (CNI_* environment, config on stdin) and where to talk.
 * Each operation (add.ts, del.ts, check.ts) either returns what to print on stdout or throws a CniError; the
 * caller prints errors as CNI error JSON. The operations are loaded only when asked for (see cli.ts).
 */
import { CNI_CODE, CniError } from './cni-error.js';
import type { CniCommand } from './delegate.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from './net-conf.js';

export interface CniRequest {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly stderr: { write(chunk: string): unknown };
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The environment each command needs, as libcni's skel requires it (DEL may come after the netns is gone). */
const REQUIRED_ENV: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
};

export function checkEnvironment(command: CniCommand, env: CniRequest['env']): void {
  const missing = REQUIRED_ENV[command].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CniError(CNI_CODE.INVALID_ENVIRONMENT, `required env variables [${missing.join(' ')}] missing`, `a container runtime sets these for ${command}; to run the plugin by hand, set them as the CNI spec describes`);
  }
}

export function versionInfo(): string {
  return `${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

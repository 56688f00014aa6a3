/**
 * The CNI operations. Each takes the runtime's request (CNI_* environment, config on stdin) and either returns
 * what to print on stdout or throws a CniError; the caller prints errors as CNI error JSON.
 */
import { goJsonStringify } from '@flannel-ts/core';
import { CNI_CODE, CniError } from './cni-error.js';
import { buildDelegateConfig } from './delegate-config.js';
import { execPlugin, findPlugin, type CniCommand } from './delegate.js';
import { readFlannelSubnetEnv } from './flannel-env.js';
import { compareVersions, CURRENT_VERSION, isJsonObject, parseNetConf, SUPPORTED_VERSIONS, type JsonObject } from './net-conf.js';
import { checkContainerId, loadDelegateConfig, removeDelegateConfig, saveDelegateConfig, savedConfigPath } from './saved-config.js';

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

export async function cmdAdd(req: CniRequest): Promise<string> {
  checkEnvironment('ADD', req.env);
  const conf = parseNetConf(req.stdin);
  const containerId = req.env['CNI_CONTAINERID']!;
  checkContainerId(containerId);
  const subnetEnv = await readFlannelSubnetEnv(conf.subnetFile, {
    waitSeconds: conf.subnetFileWaitSeconds,
    say: (line) => req.stderr.write(`${line}\n`),
    ...(req.sleep ? { sleep: req.sleep } : {}),
  });
  const delegate = buildDelegateConfig(conf, subnetEnv);
  const type = delegate['type'] as string;
  // Found before anything is saved: a saved config whose plugin is missing would make every later DEL fail too.
  const plugin = findPlugin(type, req.env['CNI_PATH']!);
  const text = goJsonStringify(delegate);
  await saveDelegateConfig(conf.dataDir, containerId, text);
  // On failure the saved config stays: the runtime follows a failed ADD with DEL, which needs it.
  const { stdout } = await execPlugin(plugin, type, 'ADD', text, req.env, req.stderr);
  let result: unknown;
  try {
    result = JSON.parse(stdout);
  } catch {
    result = undefined;
  }
  if (!isJsonObject(result)) throw new CniError(CNI_CODE.INTERNAL, `failed to delegate add: ${type} printed no result: ${JSON.stringify(stdout.slice(0, 200))}`);
  return `${stdout.trim()}\n`;
}

export async function cmdDel(req: CniRequest): Promise<string> {
  checkEnvironment('DEL', req.env);
  const conf = parseNetConf(req.stdin);
  const containerId = req.env['CNI_CONTAINERID']!;
  checkContainerId(containerId);
  const saved = await loadDelegateConfig(conf.dataDir, containerId);
  // Nothing saved: never added here, or already deleted. DEL must succeed (the spec asks for idempotence).
  if (saved === undefined) return '';
  const delegate = decodeSaved(saved);
  if (delegate === undefined) {
    // Fixes flannel's plugin, which keeps a corrupt file forever and so retries nothing but leaks it.
    req.stderr.write(`flannel: the saved delegate config ${savedConfigPath(conf.dataDir, containerId)} is not a network config; removed it (the container's interface and address, if any, are not released)\n`);
    await removeDelegateConfig(conf.dataDir, containerId);
    return '';
  }
  const type = delegate['type'] as string;
  await execPlugin(findPlugin(type, req.env['CNI_PATH']!), type, 'DEL', saved, req.env, req.stderr);
  await removeDelegateConfig(conf.dataDir, containerId);
  return '';
}

export async function cmdCheck(req: CniRequest): Promise<string> {
  checkEnvironment('CHECK', req.env);
  const conf = parseNetConf(req.stdin);
  const version = conf.cniVersion === '' ? '0.1.0' : conf.cniVersion;
  if (compareVersions(version, '0.4.0') < 0) {
    throw new CniError(CNI_CODE.INCOMPATIBLE_VERSION, `config version does not allow CHECK: cniVersion is "${version}", CHECK needs 0.4.0 or later`);
  }
  if (conf.prevResult === undefined) {
    throw new CniError(CNI_CODE.INVALID_CONFIG, 'CHECK needs "prevResult" in the network config: the result of the ADD being checked');
  }
  const containerId = req.env['CNI_CONTAINERID']!;
  checkContainerId(containerId);
  const saved = await loadDelegateConfig(conf.dataDir, containerId);
  if (saved === undefined) {
    throw new CniError(CNI_CODE.UNKNOWN_CONTAINER, `container ${containerId} is unknown to flannel: no saved config at ${savedConfigPath(conf.dataDir, containerId)}`, 'it was not added with this network config (check "dataDir"), or it was deleted');
  }
  const delegate = decodeSaved(saved);
  if (delegate === undefined) {
    throw new CniError(CNI_CODE.DECODE_FAILED, `the saved delegate config ${savedConfigPath(conf.dataDir, containerId)} is not a network config`, 'recreate the container');
  }
  // The delegate checks what it set up at ADD, in the version and against the result the runtime holds now.
  const type = delegate['type'] as string;
  const request: JsonObject = { ...delegate, cniVersion: conf.cniVersion, prevResult: conf.prevResult };
  await execPlugin(findPlugin(type, req.env['CNI_PATH']!), type, 'CHECK', goJsonStringify(request), req.env, req.stderr);
  return '';
}

function decodeSaved(text: string): JsonObject | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return isJsonObject(value) && typeof value['type'] === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

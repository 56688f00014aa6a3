/**
 * ADD: subnet.env (waiting for flanneld, bounded) + the config -> the delegate's config, saved for DEL, then the
 * delegate's ADD; its result is printed as it is.
 */
import { goJsonStringify } from '@flannel-ts/core';
import { CNI_CODE, CniError } from './cni-error.js';
import { checkEnvironment, type CniRequest } from './cni-request.js';
import { buildDelegateConfig } from './delegate-config.js';
import { execPlugin, findPlugin } from './delegate.js';
import { readFlannelSubnetEnv } from './flannel-env.js';
import { isJsonObject, parseNetConf } from './net-conf.js';
import { checkContainerId, saveDelegateConfig } from './saved-config.js';

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

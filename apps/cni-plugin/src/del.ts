/** DEL: the delegate's DEL with the config saved at ADD, then the saved config goes. Needs no subnet.env. */
import { checkEnvironment, type CniRequest } from './cni-request.js';
import { execPlugin, findPlugin } from './delegate.js';
import { parseNetConf } from './net-conf.js';
import { checkContainerId, decodeSavedConfig, loadDelegateConfig, removeDelegateConfig, savedConfigPath } from './saved-config.js';

export async function cmdDel(req: CniRequest): Promise<string> {
  checkEnvironment('DEL', req.env);
  const conf = parseNetConf(req.stdin);
  const containerId = req.env['CNI_CONTAINERID']!;
  checkContainerId(containerId);
  const saved = await loadDelegateConfig(conf.dataDir, containerId);
  // Nothing saved: never added here, or already deleted. DEL must succeed (the spec asks for idempotence).
  if (saved === undefined) return '';
  const delegate = decodeSavedConfig(saved);
  if (delegate === undefined) {
    // flannel's plugin keeps such a file forever; nothing can be torn down with it, so it goes, with a word.
    req.stderr.write(`flannel: the saved delegate config ${savedConfigPath(conf.dataDir, containerId)} is not a network config; removed it (the container's interface and address, if any, are not released)\n`);
    await removeDelegateConfig(conf.dataDir, containerId);
    return '';
  }
  const type = delegate['type'] as string;
  await execPlugin(findPlugin(type, req.env['CNI_PATH']!), type, 'DEL', saved, req.env, req.stderr);
  await removeDelegateConfig(conf.dataDir, containerId);
  return '';
}

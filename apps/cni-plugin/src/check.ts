/** CHECK: the delegate's CHECK with the config saved at ADD and the runtime's prevResult. Needs no subnet.env. */
import { CNI_CODE, CniError } from './cni-error.js';
import { checkEnvironment, type CniRequest } from './cni-request.js';
import { execPlugin, findPlugin } from './delegate.js';
import { compareVersions, parseNetConf, type JsonObject } from './net-conf.js';
import { checkContainerId, decodeSavedConfig, loadDelegateConfig, savedConfigPath } from './saved-config.js';

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
  const delegate = decodeSavedConfig(saved);
  if (delegate === undefined) {
    throw new CniError(CNI_CODE.DECODE_FAILED, `the saved delegate config ${savedConfigPath(conf.dataDir, containerId)} is not a network config`, 'recreate the container');
  }
  // The delegate checks what it set up at ADD, in the version and against the result the runtime holds now.
  const type = delegate['type'] as string;
  const request: JsonObject = { ...delegate, cniVersion: conf.cniVersion, prevResult: conf.prevResult };
  await execPlugin(findPlugin(type, req.env['CNI_PATH']!), type, 'CHECK', JSON.stringify(request), req.env, req.stderr);
  return '';
}

export { runDaemon } from './daemon.js';
export { runCli, helpText } from './cli.js';
export { FLAGS, normalizeArgv, envName } from './options.js';
export { parseArgs, resolveOptions } from './resolve.js';
export { selectExternalInterface, findExternalInterface } from './external-interface.js';
export type { LinkInfo, InterfaceSelection } from './external-interface.js';
export { manPage } from './help.js';

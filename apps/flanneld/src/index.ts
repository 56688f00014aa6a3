export { runDaemon } from './daemon.js';
export { runCli, parseArgs, helpText } from './cli.js';
export { FLAGS, resolveOptions, normalizeArgv, envName } from './options.js';
export { selectExternalInterface, findExternalInterface } from './external-interface.js';
export type { LinkInfo, InterfaceSelection } from './external-interface.js';
export { manPage } from './help.js';

export { runDaemon, DaemonState } from './daemon.js';
export type { DaemonDeps } from './daemon.js';
export { runCli, parseArgs, helpText, VERSION } from './cli.js';
export type { CliIo, ParsedCommand } from './cli.js';
export { FLAGS, resolveOptions, normalizeArgv, envName } from './options.js';
export type { FlanneldOptions } from './options.js';
export { selectExternalInterface, findExternalInterface } from './external-interface.js';
export type { LinkInfo, InterfaceSelection } from './external-interface.js';
export { manPage } from './help.js';

export { runCli, parseCommandLine } from './cli.js';
export type { CliDeps } from './cli.js';
export { manPage } from './help.js';

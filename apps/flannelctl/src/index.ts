export { runCli, manPage } from './cli.js';
export type { CliIo } from './cli.js';

export { runCli, manPage, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './cli.js';
export type { CliIo } from './cli.js';

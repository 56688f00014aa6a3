export { runCli, parseCommandLine, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './cli.js';
export type { CliIo, CliDeps, Invocation } from './cli.js';
export { manPage } from './help.js';

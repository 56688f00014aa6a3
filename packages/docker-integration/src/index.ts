export { setupDocker, describeRestart } from './setup.js';
export type { SetupDockerRequest, SetupDockerResult } from './setup.js';
export {
  dockerOptionsFromSubnetEnv,
  dockerFlags,
  formatDockerOptsFile,
} from './docker-opts.js';
export { isVariableName, DEFAULT_DAEMON_JSON, DEFAULT_DOCKER_HOST, DEFAULT_DOCKER_OPTS_FILE, DEFAULT_DOCKER_OPTS_KEY } from './options.js';
export type { DockerOptsFileFormat } from './docker-opts.js';
export { mergeDaemonJson, parseDaemonJson } from './daemon-json.js';
export { findFlagConflicts, formatFlagConflict, splitCommandLine, hasFlag, flagValue } from './flag-conflicts.js';
export { findConflictingRoutes } from './routes.js';
export type { RouteInfo } from './routes.js';
export { createDockerApi, parseDockerHost } from './docker-api.js';
export type { DockerApi } from './docker-api.js';
export { createHostOps, runCommand } from './host.js';
export type { DockerHostOps, BridgeState, ProcessInfo, RestartMethod } from './host.js';
export { waitForSubnetEnv } from './wait.js';
export { DockerSetupError } from './errors.js';

export { setupDocker, describeRestart } from './setup.js';
export type { SetupDockerRequest, SetupDockerResult } from './setup.js';
export {
  dockerOptionsFromSubnetEnv,
  dockerFlags,
  formatDockerOptsFile,
  isVariableName,
  DEFAULT_DOCKER_OPTS_FILE,
  DEFAULT_DOCKER_OPTS_KEY,
} from './docker-opts.js';
export type { DockerOptsFileFormat } from './docker-opts.js';
export { mergeDaemonJson, parseDaemonJson, DEFAULT_DAEMON_JSON } from './daemon-json.js';
export { findFlagConflicts, formatFlagConflict, splitCommandLine, hasFlag, flagValue } from './flag-conflicts.js';
export { findConflictingRoutes } from './routes.js';
export type { RouteInfo } from './routes.js';
export { createDockerApi, parseDockerHost, DEFAULT_DOCKER_HOST } from './docker-api.js';
export type { DockerApi } from './docker-api.js';
export { createHostOps, runCommand } from './host.js';
export type { DockerHostOps, BridgeState, ProcessInfo, RestartMethod } from './host.js';
export { waitForSubnetEnv } from './wait.js';
export { DockerSetupError } from './errors.js';

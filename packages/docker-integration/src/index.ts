export { setupDocker, compareDockerState, describeRestart } from './setup.js';
export type { SetupDockerRequest, SetupDockerDeps, SetupDockerResult, DockerOptionsTarget, DockerState } from './setup.js';
export {
  dockerOptionsFromSubnetEnv,
  dockerFlags,
  formatDockerOptsFile,
  isVariableName,
  DEFAULT_DOCKER_OPTS_FILE,
  DEFAULT_DOCKER_OPTS_KEY,
} from './docker-opts.js';
export type { DockerNetworkOptions, DockerOptionsRequest, DockerOptsFileFormat } from './docker-opts.js';
export { mergeDaemonJson, parseDaemonJson, daemonJsonEntries, DAEMON_JSON_KEYS, DEFAULT_DAEMON_JSON } from './daemon-json.js';
export type { DaemonJsonMerge } from './daemon-json.js';
export { findFlagConflicts, formatFlagConflict, splitCommandLine, hasFlag, flagValue } from './flag-conflicts.js';
export type { FlagSource, FlagConflict } from './flag-conflicts.js';
export { findConflictingRoutes } from './routes.js';
export type { RouteInfo } from './routes.js';
export { createDockerApi, parseDockerHost, DEFAULT_DOCKER_HOST } from './docker-api.js';
export type { DockerApi, DockerBridgeNetwork, DockerVersion } from './docker-api.js';
export { createHostOps, runCommand } from './host.js';
export type { DockerHostOps, HostOpsOptions, CommandRunner, BridgeState, BridgeAddress, ProcessInfo, RestartMethod } from './host.js';
export { waitForSubnetEnv } from './wait.js';
export { DockerSetupError, isDockerSetupError, DOCKER_SETUP_REASONS } from './errors.js';
export type { DockerSetupReason } from './errors.js';

export { startLab, BIN, ETCD_ADDRESS, UNDERLAY_PREFIX } from './lab.js';
export type { Lab, LabHost, LabContainer, LabOptions } from './lab.js';
export { startDockerLab, sweepStaleDocker, dockerUnavailable, DOCKER_IMAGE, FLANNEL_DOCKER_SETUP } from './docker.js';
export type { DockerLab, DockerLabOptions, DockerOptionsMode, LabDockerHost, SetupRun } from './docker.js';
export { runLeaseChurn, clearChurn, churnKey, churnSubnet, churnValue } from './churn.js';
export type { ChurnBackend, ChurnOptions, ChurnResult } from './churn.js';
export { kernelPeerState, expectedPeerState, stateDifferences, rssMiB, cpuSeconds } from './peer-state.js';
export { runCniPlugin, FLANNEL_CNI, CNI_PLUGIN_DIR } from './cni.js';
export type { CniCall, CniRun, CniCommand } from './cni.js';

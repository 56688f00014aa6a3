export { startLab, BIN, ETCD_ADDRESS, UNDERLAY_PREFIX } from './lab.js';
export type { Lab, LabHost, LabContainer, LabOptions } from './lab.js';
export { startDockerLab, sweepStaleDocker, dockerUnavailable, DOCKER_IMAGE, FLANNEL_DOCKER_SETUP } from './docker.js';
export type { DockerLab, DockerLabOptions, DockerOptionsMode, LabDockerHost, SetupRun } from './docker.js';
export { runCniPlugin, FLANNEL_CNI, CNI_PLUGIN_DIR } from './cni.js';
export type { CniCall, CniRun, CniCommand } from './cni.js';

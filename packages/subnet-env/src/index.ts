export { formatSubnetEnv, parseSubnetEnv, parseDotenv, gatewayCidr } from './subnet-env.js';
export { DEFAULT_SUBNET_FILE } from './paths.js';
export type { SubnetEnv, SubnetEnvFile } from './subnet-env.js';
export { writeSubnetEnv, readSubnetEnv, writeFileAtomic, checkWritable } from './file.js';

export { formatSubnetEnv, parseSubnetEnv, parseDotenv, gatewayCidr, DEFAULT_SUBNET_FILE } from './subnet-env.js';
export type { SubnetEnv, SubnetEnvFile } from './subnet-env.js';
export { writeSubnetEnv, readSubnetEnv, writeFileAtomic, checkWritable } from './file.js';

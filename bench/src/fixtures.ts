export { startEtcd, createTempDir } from '@flannel-ts/testkit';
export { silentLogger as silentLoggerForBench } from '@flannel-ts/core';

export { startEtcd, etcdBinary } from './etcd.js';
export type { EtcdServer, EtcdOptions } from './etcd.js';
export { createTempDir } from './temp-dir.js';
export type { TempDir } from './temp-dir.js';
export { freePort } from './ports.js';
export { spawnTracked, stopProcess } from './processes.js';
export { waitFor } from './wait.js';
export { createRecordingLogger } from './recording-logger.js';
export type { RecordingLogger, LogRecord } from './recording-logger.js';

/**
 * `@flannel-ts/core/command-line`: what a command needs to parse its flags, print help and report errors, without
 * core's IP, config or lease code (and ip-num under it). The apps' help, version and usage-error paths import this
 * entry only, so a bundled `--help` reads none of that; everything here is also exported by the main entry.
 */
export { ERROR_CODES, FlannelError, ConfigError, HostCommandError, UsageError, isFlannelError, errorMessage } from './errors.js';
export type { FlannelErrorCode } from './errors.js';
export { printable, hasUnsafeCharacters } from './printable.js';
export { createLineLogger, silentLogger, LOG_LEVELS } from './logger.js';
export type { Logger, LogLevel, LogFields, LineLoggerOptions } from './logger.js';
export { renderHelp, renderManPage, versionLine } from './help.js';
export type { HelpDocument, HelpSection, HelpOption } from './help.js';
export { DEFAULT_ETCD_ENDPOINTS, DEFAULT_ETCD_PREFIX, endpointProblem } from './etcd-endpoint.js';

/**
 * One error class for the whole project. Callers branch on `code` (or `instanceof` of a subclass that carries
 * extra fields), never on the message text. Every message names the problem and the fix.
 */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'CONFIG_NOT_FOUND',
  'SUBNET_EXHAUSTED',
  'LEASE_CONFLICT',
  'LEASE_NOT_FOUND',
  'STORE_UNAVAILABLE',
  'HOST_COMMAND_FAILED',
  'FILE_IO_FAILED',
  'INTERFACE_NOT_FOUND',
  'OUTSIDE_NETWORK',
  'USAGE',
] as const;

export type FlannelErrorCode = (typeof ERROR_CODES)[number];

export class FlannelError extends Error {
  override readonly name: string = 'FlannelError';
  readonly code: FlannelErrorCode;

  constructor(code: FlannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** A command line that cannot be understood: the apps exit 2 with the usage on stderr. */
export class UsageError extends FlannelError {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super('USAGE', message);
  }
}

/** An invalid network config or backend config; `field` is the config key at fault (flannel's spelling). */
export class ConfigError extends FlannelError {
  override readonly name = 'ConfigError';
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
    this.field = field;
  }
}

/** A host command (ip, bridge, iptables) that failed; `failures` lists each failed line with its error. */
export class HostCommandError extends FlannelError {
  override readonly name = 'HostCommandError';
  readonly command: string;
  readonly exitCode: number | null;
  readonly stderr: string;

  constructor(command: string, exitCode: number | null, stderr: string, message: string) {
    super('HOST_COMMAND_FAILED', message);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export function isFlannelError(err: unknown, code?: FlannelErrorCode): err is FlannelError {
  return err instanceof FlannelError && (code === undefined || err.code === code);
}

/** Turns anything thrown into a one-line reason for a log field. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * CNI errors: what the plugin prints on stdout (with a non-zero exit) when an operation fails, as the CNI spec
 * defines it: `{"cniVersion", "code", "msg", "details"}`. Codes 1-99 are the spec's; 100+ are ours; 999 is what
 * libcni uses for an error without a code, kept for a delegate that fails without printing a CNI error.
 */

export const CNI_CODE = {
  /** 1: the config's cniVersion is not one the plugin speaks (or CHECK before 0.4.0). */
  INCOMPATIBLE_VERSION: 1,
  /** 3: the container is unknown (CHECK of a container this plugin never added). */
  UNKNOWN_CONTAINER: 3,
  /** 4: CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME or CNI_PATH missing or invalid. */
  INVALID_ENVIRONMENT: 4,
  /** 5: reading or writing a file failed. */
  IO_FAILURE: 5,
  /** 6: stdin or subnet.env could not be decoded. */
  DECODE_FAILED: 6,
  /** 7: the network config decoded but is not valid. */
  INVALID_CONFIG: 7,
  /** 11: transient: subnet.env is not there yet (flanneld still starting); the runtime should retry. */
  TRY_AGAIN_LATER: 11,
  /** 999: the delegate failed without a CNI error of its own. */
  INTERNAL: 999,
} as const;

export class CniError extends Error {
  override readonly name = 'CniError';
  readonly code: number;
  readonly details: string;

  constructor(code: number, message: string, details = '', options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
  }
}

/** The spec's error object, as the plugin prints it on stdout. */
export function formatCniError(err: CniError, cniVersion: string): string {
  const body: Record<string, unknown> = { cniVersion, code: err.code, msg: err.message };
  if (err.details !== '') body['details'] = err.details;
  return `${JSON.stringify(body, null, 4)}\n`;
}

/** Any thrown value as a CniError (an unexpected one keeps its message under code 999). */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  return new CniError(CNI_CODE.INTERNAL, err instanceof Error ? err.message : String(err));
}

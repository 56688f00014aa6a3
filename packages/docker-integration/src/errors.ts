import { FlannelError, type FlannelErrorCode } from '@flannel-ts/core/command-line';

/**
 * What went wrong while putting Docker on the flannel subnet. core's `code` says the kind of failure (config,
 * file, host command); `reason` says which step, so the app and tests can branch without reading messages.
 */
export const DOCKER_SETUP_REASONS = {
  /** subnet.env did not appear in time. */
  SUBNET_ENV_MISSING: 'CONFIG_NOT_FOUND',
  /** subnet.env has a value Docker cannot use (FLANNEL_IPMASQ, FLANNEL_SUBNET, FLANNEL_MTU). */
  SUBNET_ENV_INVALID: 'CONFIG_INVALID',
  /** The routing table already sends (part of) the subnet through a gateway. */
  ROUTE_CONFLICT: 'CONFIG_INVALID',
  /** A key would be both a dockerd flag and in daemon.json (dockerd refuses to start). */
  FLAG_CONFLICT: 'CONFIG_INVALID',
  /** daemon.json is not a JSON object. */
  DAEMON_JSON_INVALID: 'CONFIG_INVALID',
  /** The restart command (or systemctl) failed. */
  RESTART_FAILED: 'HOST_COMMAND_FAILED',
  /** After the restart, Docker is not on the subnet (or does not answer). */
  VERIFY_FAILED: 'HOST_COMMAND_FAILED',
} as const satisfies Record<string, FlannelErrorCode>;

export type DockerSetupReason = keyof typeof DOCKER_SETUP_REASONS;

export class DockerSetupError extends FlannelError {
  override readonly name = 'DockerSetupError';
  readonly reason: DockerSetupReason;

  constructor(reason: DockerSetupReason, message: string, options?: { cause?: unknown }) {
    super(DOCKER_SETUP_REASONS[reason], message, options);
    this.reason = reason;
  }
}

export function isDockerSetupError(err: unknown, reason?: DockerSetupReason): err is DockerSetupError {
  return err instanceof DockerSetupError && (reason === undefined || err.reason === reason);
}

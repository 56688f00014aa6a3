import { errorMessage, isFlannelError, type NetworkConfig } from '@flannel-ts/core';
import type { LeaseManager } from '@flannel-ts/lease-manager';

/**
 * The network config, or why there is none: a missing or invalid config is a finding for status and doctor, not a
 * reason to stop. Other errors (etcd unreachable) still throw.
 */
export async function readConfigLeniently(manager: LeaseManager): Promise<{ config: NetworkConfig | undefined; configError: string | undefined }> {
  try {
    return { config: await manager.getNetworkConfig(), configError: undefined };
  } catch (err) {
    if (!isFlannelError(err, 'CONFIG_NOT_FOUND') && !isFlannelError(err, 'CONFIG_INVALID')) throw err;
    return { config: undefined, configError: errorMessage(err) };
  }
}

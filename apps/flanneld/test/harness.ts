import { fileURLToPath } from 'node:url';
import { startDaemon, type DaemonProcess, type EtcdServer } from '@flannel-ts/testkit';

export const FLANNELD_BIN = fileURLToPath(new URL('../../../bin/flanneld', import.meta.url));

export interface FlanneldRun {
  readonly publicIp: string;
  readonly subnetFile: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts the real bin/flanneld against a test etcd, on the loopback interface with a distinct public IP. */
export function startFlanneld(etcd: EtcdServer, run: FlanneldRun): DaemonProcess {
  return startDaemon(
    FLANNELD_BIN,
    [`--etcd-endpoints=${etcd.endpoint}`, '--iface=lo', `--public-ip=${run.publicIp}`, `--subnet-file=${run.subnetFile}`, ...(run.args ?? [])],
    { env: { ...process.env, ...run.env } },
  );
}

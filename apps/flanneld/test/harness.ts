import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { createNetns, startDaemon, type DaemonProcess, type EtcdServer, type Netns } from '@flannel-ts/testkit';

export const FLANNELD_BIN = fileURLToPath(new URL('../../../bin/flanneld', import.meta.url));

export interface FlanneldRun {
  readonly publicIp: string;
  readonly subnetFile: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * flanneld runs in a network namespace of this test file (so firewall rules and routes never touch the machine's
 * own), bound to its loopback with a distinct --public-ip each, reaching the test etcd over its unix socket.
 */
let netns: Netns | undefined;
export async function flanneldNamespace(): Promise<Netns> {
  netns ??= await createNetns();
  return netns;
}
afterAll(async () => {
  await netns?.[Symbol.asyncDispose]();
  netns = undefined;
});

export async function startFlanneld(etcd: EtcdServer, run: FlanneldRun): Promise<DaemonProcess> {
  const ns = await flanneldNamespace();
  return startDaemon(
    'ip',
    ['netns', 'exec', ns.name, FLANNELD_BIN, `--etcd-endpoints=${etcd.localEndpoint}`, '--iface=lo', `--public-ip=${run.publicIp}`, `--subnet-file=${run.subnetFile}`, ...(run.args ?? [])],
    { env: { ...process.env, ...run.env } },
  );
}

/** GET a URL from inside the flanneld namespace (where the health server listens). */
export async function fetchInNamespace(url: string): Promise<{ status: number; body: string }> {
  const ns = await flanneldNamespace();
  const out = await ns.exec(process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })))`]);
  return JSON.parse(out) as { status: number; body: string };
}

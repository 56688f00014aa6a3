/**
 * Running a CNI plugin the way a container runtime does: CNI_* environment, the network config on stdin, the
 * result (or a CNI error) on stdout. The plugin runs inside a lab host's namespace (entered with nsenter, which
 * leaves /sys alone), so the bridge and veths it creates belong to that host.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Our plugin's launcher (what `flannel install` copies is the bundle it runs). */
export const FLANNEL_CNI = join(REPO, 'bin', 'flannel');
/** Where Debian's containernetworking-plugins puts bridge, host-local, loopback, ... */
export const CNI_PLUGIN_DIR = '/usr/lib/cni';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

export interface CniCall {
  /** The plugin executable (FLANNEL_CNI, or e.g. /usr/lib/cni/bridge). */
  readonly plugin: string;
  readonly command: CniCommand;
  /** The host namespace the plugin runs in; omitted: this one. */
  readonly hostNetns?: string;
  readonly containerId: string;
  /** The container's netns path (CNI_NETNS); DEL may omit it. */
  readonly netnsPath?: string;
  readonly ifname?: string;
  /** CNI_PATH; default Debian's plugin directory. */
  readonly cniPath?: string;
  readonly config: string | object;
  readonly timeoutMs?: number;
  /** Called with each chunk of the plugin's stderr as it comes (e.g. to act once it says it waits). */
  readonly onStderr?: (chunk: string) => void;
}

export interface CniRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
}

export function runCniPlugin(call: CniCall): Promise<CniRun> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_IFNAME: call.ifname ?? 'eth0',
    CNI_PATH: call.cniPath ?? CNI_PLUGIN_DIR,
  };
  if (call.netnsPath !== undefined) env['CNI_NETNS'] = call.netnsPath;
  const [command, args] = call.hostNetns ? ['nsenter', [`--net=/run/netns/${call.hostNetns}`, call.plugin]] : [call.plugin, []];
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args as string[], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), call.timeoutMs ?? 30_000);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      call.onStderr?.(c.toString());
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(typeof call.config === 'string' ? call.config : JSON.stringify(call.config));
  });
}

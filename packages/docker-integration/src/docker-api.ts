/**
 * The few Docker Engine API calls verification needs, over the daemon's unix socket (or tcp://), with node:http:
 * no docker CLI of a matching version is needed. `GET /_ping`, `GET /version`, `GET /networks/bridge`.
 */
import { request } from 'node:http';
import { FlannelError } from '@flannel-ts/core';


export interface DockerVersion {
  readonly version: string;
  readonly apiVersion: string;
}

/** Docker's default bridge network as the daemon reports it. */
export interface DockerBridgeNetwork {
  /** The Linux bridge (`com.docker.network.bridge.name`, normally docker0). */
  readonly bridge: string | undefined;
  readonly subnet: string | undefined;
  readonly gateway: string | undefined;
  /** `com.docker.network.driver.mtu`: the MTU of container interfaces. */
  readonly mtu: number | undefined;
  /** `com.docker.network.bridge.enable_ip_masquerade`. */
  readonly ipMasq: boolean | undefined;
}

export interface DockerApi {
  readonly host: string;
  /** Resolves when the daemon answers `/_ping` with OK; rejects with the reason otherwise. */
  ping(): Promise<void>;
  version(): Promise<DockerVersion>;
  /** The network named `bridge` (Docker's default network on docker0). */
  bridgeNetwork(): Promise<DockerBridgeNetwork>;
}

type Endpoint = { socketPath: string } | { host: string; port: number };

export function parseDockerHost(host: string): Endpoint {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path.startsWith('/')) return { socketPath: path };
  } else if (host.startsWith('/')) {
    return { socketPath: host };
  } else if (host.startsWith('tcp://') || host.startsWith('http://')) {
    const url = new URL(host.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: url.port === '' ? 2375 : Number(url.port) };
  }
  throw new FlannelError('USAGE', `Docker host "${host}" is not unix:///path/to/docker.sock or tcp://host:port`);
}

export function createDockerApi(host: string, options: { timeoutMs?: number } = {}): DockerApi {
  const endpoint = parseDockerHost(host);
  const timeoutMs = options.timeoutMs ?? 5_000;

  const get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ ...endpoint, path, method: 'GET', headers: { host: 'docker' }, timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });

  const getJson = async (path: string): Promise<Record<string, unknown>> => {
    const { status, body } = await get(path);
    if (status !== 200) throw new Error(`GET ${path} answered ${status}: ${body.trim()}`);
    return JSON.parse(body) as Record<string, unknown>;
  };

  return {
    host,
    async ping() {
      const { status, body } = await get('/_ping');
      if (status !== 200 || body.trim() !== 'OK') throw new Error(`GET /_ping answered ${status}: ${body.trim()}`);
    },
    async version() {
      const json = await getJson('/version');
      return { version: String(json['Version'] ?? ''), apiVersion: String(json['ApiVersion'] ?? '') };
    },
    async bridgeNetwork() {
      const json = await getJson('/networks/bridge');
      const ipam = json['IPAM'] as { Config?: Array<{ Subnet?: string; Gateway?: string }> } | undefined;
      const config = ipam?.Config?.find((c) => c.Subnet !== undefined && !c.Subnet.includes(':'));
      const opts = (json['Options'] ?? {}) as Record<string, string | undefined>;
      const mtu = opts['com.docker.network.driver.mtu'];
      const masq = opts['com.docker.network.bridge.enable_ip_masquerade'];
      return {
        bridge: opts['com.docker.network.bridge.name'],
        subnet: config?.Subnet,
        gateway: config?.Gateway,
        mtu: mtu === undefined ? undefined : Number(mtu),
        ipMasq: masq === undefined ? undefined : masq === 'true',
      };
    },
  };
}

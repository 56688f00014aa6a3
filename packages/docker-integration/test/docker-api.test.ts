import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTempDir, type TempDir } from '@flannel-ts/testkit';
import { createDockerApi, parseDockerHost } from '../src/index.js';

/** GET /networks/bridge of a Docker 20.10 daemon started with --bip=10.9.1.1/24 --mtu=1472 --ip-masq=false (trimmed). */
const BRIDGE = {
  Name: 'bridge',
  Driver: 'bridge',
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.9.1.0/24', Gateway: '10.9.1.1' }] },
  Options: {
    'com.docker.network.bridge.default_bridge': 'true',
    'com.docker.network.bridge.enable_icc': 'true',
    'com.docker.network.bridge.enable_ip_masquerade': 'false',
    'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
    'com.docker.network.bridge.name': 'docker0',
    'com.docker.network.driver.mtu': '1472',
  },
};

let dir: TempDir;
let server: Server;
let socket: string;
let answers: Record<string, [number, string]>;

beforeEach(async () => {
  dir = await createTempDir('docker-api-test-');
  socket = join(dir.path, 'docker.sock');
  answers = {
    '/_ping': [200, 'OK'],
    '/version': [200, JSON.stringify({ Version: '20.10.24+dfsg1', ApiVersion: '1.41' })],
    '/networks/bridge': [200, JSON.stringify(BRIDGE)],
  };
  server = createServer((req, res) => {
    const [status, body] = answers[req.url ?? ''] ?? [404, '{"message":"page not found"}'];
    if (status === 0) return; // never answers
    res.writeHead(status).end(body);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await dir[Symbol.asyncDispose]();
});

describe('Docker API over the unix socket', () => {
  it('pings, reads the version and the default bridge network', async () => {
    const api = createDockerApi(`unix://${socket}`);
    await expect(api.ping()).resolves.toBeUndefined();
    expect(await api.version()).toEqual({ version: '20.10.24+dfsg1', apiVersion: '1.41' });
    expect(await api.bridgeNetwork()).toEqual({ bridge: 'docker0', subnet: '10.9.1.0/24', gateway: '10.9.1.1', mtu: 1472, ipMasq: false });
  });

  it('rejects when the daemon is not there, answers wrong, or hangs', async () => {
    await expect(createDockerApi(`unix://${dir.path}/none.sock`).ping()).rejects.toThrow(/ENOENT/);
    answers['/_ping'] = [500, 'starting'];
    await expect(createDockerApi(socket).ping()).rejects.toThrow('GET /_ping answered 500: starting');
    answers['/networks/bridge'] = [404, '{"message":"network bridge not found"}'];
    await expect(createDockerApi(socket).bridgeNetwork()).rejects.toThrow('GET /networks/bridge answered 404');
    answers['/version'] = [0, ''];
    await expect(createDockerApi(socket, { timeoutMs: 100 }).version()).rejects.toThrow('no answer within 100 ms');
  });

  it('reads unix://, tcp:// and bare socket paths', () => {
    expect(parseDockerHost('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(parseDockerHost('/run/docker.sock')).toEqual({ socketPath: '/run/docker.sock' });
    expect(parseDockerHost('tcp://192.0.2.5:2375')).toEqual({ host: '192.0.2.5', port: 2375 });
    expect(() => parseDockerHost('fd://')).toThrow('Docker host "fd://" is not unix:///path/to/docker.sock or tcp://host:port');
  });
});

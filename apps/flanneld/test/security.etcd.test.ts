/**
 * flanneld against an etcd that requires TLS client certificates and username/password authentication.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTempDir, createTestCertificates, startDaemon, startEtcd, waitFor } from '@flannel-ts/testkit';
import { FLANNELD_BIN, flanneldNamespace } from './harness.js';

describe('etcd with TLS and auth', () => {
  it('connects with CA, client certificate and key, username and password; refuses a wrong password clearly', async () => {
    await using dir = await createTempDir();
    const certs = await createTestCertificates(dir.path);
    const ns = await flanneldNamespace();
    await using etcd = await startEtcd({
      netns: ns.name,
      listenAddress: '127.0.0.1',
      scheme: 'https',
      extraArgs: ['--cert-file', certs.serverCert, '--key-file', certs.serverKey, '--client-cert-auth', '--trusted-ca-file', certs.ca],
    });
    const tls = ['--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];
    const etcdctl = (...args: string[]) => ns.exec('etcdctl', [`--endpoints=${etcd.endpoint}`, ...tls, ...args]);
    await waitFor(async () => (await etcdctl('put', '/probe', 'x').catch(() => '')).includes('OK'), { what: 'etcd over TLS' });
    await etcdctl('user', 'add', 'root:rootpw');
    await etcdctl('user', 'add', 'flannel:s3cret');
    await etcdctl('role', 'add', 'flannel');
    await etcdctl('role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', '/coreos.com/network/');
    await etcdctl('user', 'grant-role', 'flannel', 'flannel');
    await etcdctl('auth', 'enable');
    await etcdctl('--user=root:rootpw', 'put', '/coreos.com/network/config', '{"Network":"10.1.0.0/16","Backend":{"Type":"alloc"}}');

    const subnetFile = join(dir.path, 'subnet.env');
    const healthzPort = 20_000 + (process.pid % 20_000);
    const flags = (password: string) => [
      'netns', 'exec', ns.name, FLANNELD_BIN,
      `--etcd-endpoints=${etcd.endpoint}`, '--iface=lo', '--public-ip=192.0.2.1', `--subnet-file=${subnetFile}`,
      `--etcd-cafile=${certs.ca}`, `--etcd-certfile=${certs.clientCert}`, `--etcd-keyfile=${certs.clientKey}`,
      '--etcd-username=flannel', `--etcd-password=${password}`,
    ];
    await using good = startDaemon('ip', [...flags('s3cret'), '--log-level=debug', `--healthz-port=${healthzPort}`]);
    await good.waitForOutput(/flanneld is running/, 20_000);
    expect(good.output()).toMatch(/using etcd .* tls=true auth=true/);
    // TLS to an IP endpoint makes Node warn (DEP0123) and grpc-js may log lines of its own: neither reaches stderr
    // raw (Node prints `(node:PID) [DEP0123] DeprecationWarning: ...`), only as a log line at debug level.
    expect(good.output()).not.toMatch(/^\(node:\d+\)|^[EID] \d/m);
    for (const line of good.output().split('\n').filter((l) => l.includes('DeprecationWarning'))) expect(line).toMatch(/^\S+Z debug flanneld node warning name=DeprecationWarning /);
    for (const line of good.output().trim().split('\n')) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) /);
    // The password on the command line is warned about, and never printed or served.
    expect(good.output()).toMatch(/--etcd-password on the command line is visible .* fix="pass it in FLANNELD_ETCD_PASSWORD/);
    const metrics = await ns.exec(process.execPath, ['-e', `fetch('http://127.0.0.1:${healthzPort}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`]);
    expect(metrics).toContain('flanneld_peer_leases_rejected');
    expect(metrics).not.toContain('s3cret');
    expect(good.output()).not.toContain('s3cret');
    expect(await readFile(subnetFile, 'utf8')).toMatch(/^FLANNEL_NETWORK=10.1.0.0\/16\n/);
    const lease = await etcdctl('--user=root:rootpw', 'get', '--prefix', '/coreos.com/network/subnets/');
    expect(lease).toContain('{"PublicIP":"192.0.2.1","PublicIPv6":null}');
    await good.stop();

    // From the environment: no warning, and a wrong password is named as such without being printed.
    const fromEnv = flags('unused').filter((arg) => !arg.startsWith('--etcd-password='));
    await using bad = startDaemon('ip', fromEnv, { env: { ...process.env, FLANNELD_ETCD_PASSWORD: 'wr0ng-Pa55' } });
    await bad.waitForOutput(/waiting for a valid network config .*(authentication failed|invalid user ID or password)/i, 20_000);
    expect(bad.output()).not.toContain('wr0ng-Pa55');
    expect(bad.output()).not.toMatch(/--etcd-password on the command line/);
  });
});

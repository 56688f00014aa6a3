/**
 * The store is untrusted: hostile and mistaken leases written straight into etcd (as `etcdctl put` would) change no
 * route outside the overlay and nothing of the underlay, get no kernel entry, are flagged with their reason by
 * `flannelctl status` and counted by /metrics, while the real peers keep pinging both ways (also after an alias key
 * of a real peer came and went) and flanneld stays up. One 2-host lab per backend, read back with `ip -j` and
 * `bridge -j`.
 */
import { describe, expect, it } from 'vitest';
import { connectEtcd } from '@flannel-ts/lease-manager';
import { startLab, type Lab, type LabContainer, type LabHost } from '@flannel-ts/lab';
import { waitFor } from '@flannel-ts/testkit';
import { ping } from './net.js';

const HEALTHZ_PORT = 8473;
const PREFIX = '/coreos.com/network/subnets/';

type Backend = 'host-gw' | 'vxlan' | 'udp';

interface Hostile {
  readonly key: string;
  readonly value: string;
  /** The reason `flannelctl status` gives (seen from no host); undefined when only a host's own view rejects it. */
  readonly reason: string | undefined;
}

function attrs(backend: Backend, publicIP: string, mac: string, backendType: string = backend): string {
  if (backend === 'udp') return JSON.stringify({ PublicIP: publicIP, ...(backendType === backend ? {} : { BackendType: backendType }) });
  return JSON.stringify({ PublicIP: publicIP, BackendType: backendType, ...(backend === 'vxlan' ? { BackendData: { VNI: 1, VtepMAC: mac } } : {}) });
}

/** Every kind of bad lease the issue names, aimed at host 1 (own subnet X) and its peer host 2 (subnet Y). */
function hostileLeases(backend: Backend, h1: LabHost, h2: LabHost, ownThird: number, peerThird: number, peerMac: string): Hostile[] {
  const mac = (n: number) => `02:00:00:00:ff:${n.toString(16).padStart(2, '0')}`;
  const leases: Hostile[] = [
    { key: '1.2.3.4-0', value: attrs(backend, h2.underlayIp, mac(1)), reason: 'non-canonical-key' },
    { key: '192.0.2.0-24', value: attrs(backend, h2.underlayIp, mac(2)), reason: 'outside-network' },
    { key: '172.16.0.0-12', value: attrs(backend, h2.underlayIp, mac(3)), reason: 'wrong-prefix-length' },
    { key: '10.1.0.0-16', value: attrs(backend, h2.underlayIp, mac(4)), reason: 'wrong-prefix-length' },
    { key: `10.1.${ownThird}.128-25`, value: attrs(backend, h2.underlayIp, mac(5)), reason: 'wrong-prefix-length' },
    { key: '10.1.210.0-23', value: attrs(backend, h2.underlayIp, mac(6)), reason: 'wrong-prefix-length' },
    { key: `10.1.${peerThird}.9-24`, value: attrs(backend, '192.0.2.77', mac(7)), reason: 'non-canonical-key' },
    { key: '10.1.200.0-24', value: attrs(backend, '127.0.0.1', mac(8)), reason: 'invalid-public-ip' },
    { key: '10.1.201.0-24', value: attrs(backend, '224.0.0.1', mac(9)), reason: 'invalid-public-ip' },
    // Host 1's own address: a duplicate public IP (rejected by host 1 only; status flags duplicate-public-ip).
    { key: '10.1.202.0-24', value: attrs(backend, h1.underlayIp, mac(10)), reason: undefined },
    // A BackendType that would forge rows of a table and drive the terminal.
    { key: '10.1.204.0-24', value: attrs(backend, '192.0.2.78', mac(11), `${backend}\n10.1.99.0/24   6.6.6.6   forged\u001b[31m\u0007`), reason: 'wrong-backend-type' },
  ];
  if (backend === 'vxlan') leases.push({ key: '10.1.203.0-24', value: attrs(backend, '192.0.2.79', peerMac), reason: 'duplicate-vtep-mac' });
  return leases;
}

/** Every route on the host outside the overlay (any table, both families): must not change. */
async function underlayRoutes(host: LabHost): Promise<string[]> {
  const out: string[] = [];
  for (const family of ['-4', '-6']) {
    const routes = await host.ipJson<Array<Record<string, unknown>>>([family, 'route', 'show', 'table', 'all']);
    for (const route of routes) {
      const dst = String(route['dst']);
      // IPv6 link-local and multicast entries appear by themselves as links come up (DAD): not ours to compare.
      if (dst.startsWith('10.1.') || dst.startsWith('fe80:') || dst === 'ff00::/8') continue;
      out.push(JSON.stringify(route));
    }
  }
  return out.sort();
}

/** What the backend programmed for peers, as comparable strings. */
async function overlayEntries(backend: Backend, host: LabHost): Promise<string[]> {
  const out: string[] = [];
  // Backends program the main table: peer routes have a gateway; udp's one route is the Network on flannel0.
  const routes = await host.ipJson<Array<{ dst: string; gateway?: string; dev?: string }>>(['-4', 'route', 'show']);
  for (const r of routes) if (r.dst.startsWith('10.1.') && (r.gateway || r.dev === 'flannel0')) out.push(`route ${r.dst} via ${r.gateway ?? '-'} dev ${r.dev}`);
  if (backend === 'vxlan') {
    for (const n of await host.ipJson<Array<{ dst: string; lladdr?: string }>>(['-4', 'neigh', 'show', 'dev', 'flannel.1'])) out.push(`neigh ${n.dst} ${n.lladdr}`);
    const fdb = JSON.parse(await host.exec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as Array<{ mac: string; dst?: string }>;
    for (const f of fdb) if (f.dst) out.push(`fdb ${f.mac} ${f.dst}`);
  }
  return out.sort();
}

async function expectedEntries(backend: Backend, peer: LabHost, peerMac: string): Promise<string[]> {
  const subnet = (await peer.subnetEnv()).subnet!;
  if (backend === 'host-gw') return [`route ${subnet} via ${peer.underlayIp} dev eth0`];
  if (backend === 'udp') return ['route 10.1.0.0/16 via - dev flannel0'];
  return [`fdb ${peerMac} ${peer.underlayIp}`, `neigh ${subnet.addressText()} ${peerMac}`, `route ${subnet} via ${subnet.addressText()} dev flannel.1`].sort();
}

async function bothWays(a: LabContainer, b: LabContainer): Promise<boolean> {
  return (await ping(a, b.ip, ['-c', '1', '-W', '1'])).ok && (await ping(b, a.ip, ['-c', '1', '-W', '1'])).ok;
}

async function metricsOf(host: LabHost): Promise<string> {
  return host.exec(process.execPath, ['-e', `fetch('http://127.0.0.1:${HEALTHZ_PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`]);
}

async function vtepMac(host: LabHost): Promise<string> {
  const [link] = await host.ipJson<Array<{ address: string }>>(['link', 'show', 'flannel.1']);
  return link!.address;
}

describe.each(['host-gw', 'vxlan', 'udp'] as const)('untrusted store, %s', (backend) => {
  it('programs no hostile lease, touches nothing outside the overlay, keeps the real peers and says why', async () => {
    await using lab: Lab = await startLab({ hosts: 2, flanneldArgs: ['--healthz-ip=127.0.0.1', `--healthz-port=${HEALTHZ_PORT}`] });
    const client = connectEtcd({ endpoints: [lab.etcd.localEndpoint] });
    try {
      const [h1, h2] = lab.hosts as [LabHost, LabHost];
      // The real hosts lease from 10.1.1.0-10.1.90.0 only: the hostile keys (10.1.99.0 forged in a row, 10.1.200.0 and
      // up) must never be a real host's subnet, or a put would overwrite its lease and the checks below would flake.
      await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--subnet-min', '10.1.1.0', '--subnet-max', '10.1.90.0', '--backend', backend]);
      await lab.startFlanneld(h1);
      await lab.startFlanneld(h2);
      const [c1, c2] = [await lab.addContainer(h1), await lab.addContainer(h2)];
      await waitFor(() => bothWays(c1, c2), { timeoutMs: 20_000, what: 'the real peers reach each other' });
      const peerMac = backend === 'vxlan' ? await vtepMac(h2) : '';
      const before = { h1: await underlayRoutes(h1), h2: await underlayRoutes(h2) };
      const ownThird = Number((await h1.subnetEnv()).subnet!.ipText().split('.')[2]);
      const peerThird = Number((await h2.subnetEnv()).subnet!.ipText().split('.')[2]);

      const hostile = hostileLeases(backend, h1, h2, ownThird, peerThird, peerMac);
      for (const lease of hostile) await client.put(PREFIX + lease.key).value(lease.value).exec();
      const rejectedOnH1 = () => h1.flanneld!.output().match(/peer lease rejected, not programming it/g)?.length ?? 0;
      await waitFor(() => rejectedOnH1() >= hostile.length, { timeoutMs: 15_000, what: `${hostile.length} rejections logged on host 1` });
      // Give a reconcile and the batches time to do damage, if they were going to.
      await new Promise((r) => setTimeout(r, 1_500));

      // Nothing outside the overlay moved, on either host; the overlay holds the real peer and nothing else.
      expect(await underlayRoutes(h1)).toEqual(before.h1);
      expect(await underlayRoutes(h2)).toEqual(before.h2);
      expect(await overlayEntries(backend, h1)).toEqual(await expectedEntries(backend, h2, peerMac));
      // Host 2 sees the lease naming host 1's address as a valid peer (it is one, from there); nothing else is new.
      const h1Mac = backend === 'vxlan' ? await vtepMac(h1) : '';
      const dup = { host: 'route 10.1.202.0/24 via ' + h1.underlayIp + ' dev eth0', vxlan: ['fdb 02:00:00:00:ff:0a ' + h1.underlayIp, 'neigh 10.1.202.0 02:00:00:00:ff:0a', 'route 10.1.202.0/24 via 10.1.202.0 dev flannel.1'] };
      const allowedOnH2 = [...(await expectedEntries(backend, h1, h1Mac)), ...(backend === 'host-gw' ? [dup.host] : backend === 'vxlan' ? dup.vxlan : [])].sort();
      expect(await overlayEntries(backend, h2)).toEqual(allowedOnH2);
      expect(await bothWays(c1, c2)).toBe(true);
      if (backend === 'udp') {
        // The forwarder has no route for a rejected subnet: the sender hears "net unreachable".
        const probe = await ping(c1, '10.1.200.2', ['-c', '1', '-W', '2']);
        expect(probe.output).toMatch(/Destination Net Unreachable/);
      }
      // Each rejection logged once (not per resync), flanneld up, its duplicate public IP reported.
      expect(rejectedOnH1()).toBe(hostile.length);
      expect(h1.flanneld!.child.exitCode).toBeNull();
      expect(h1.flanneld!.output()).toMatch(/duplicate public IP: another lease claims this host's address subnet=10\.1\.202\.0-24/);

      // /metrics counts them by reason.
      const metrics = await metricsOf(h1);
      const counted = [...metrics.matchAll(/^flanneld_peer_leases_rejected\{reason="([^"]+)"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[2]), 0);
      expect(counted).toBe(hostile.length);
      expect(metrics).toMatch(/^flanneld_peer_leases_rejected\{reason="wrong-prefix-length"\} 4$/m);
      expect(metrics).toMatch(/^flanneld_peer_lease_rejections_total\{reason="non-canonical-key"\} 2$/m);

      // flannelctl status flags every rejected lease with its reason; the rows stay.
      const status = JSON.parse(await lab.flannelctl(['status', '--json'])) as { hosts: Array<{ key: string; flags: string[]; rejection: { reason: string } | null }> };
      for (const lease of hostile) {
        const row = status.hosts.find((h) => h.key === lease.key);
        expect(row, lease.key).toBeDefined();
        expect(row!.rejection?.reason, lease.key).toBe(lease.reason);
        if (lease.reason) expect(row!.flags).toContain('rejected');
      }
      expect(status.hosts.filter((h) => h.rejection === null).length).toBe(3); // host 1, host 2, and 10.1.202.0-24

      // leases list: one escaped row for the forged BackendType, no control character reaches the terminal.
      const list = await lab.flannelctl(['leases', 'list']);
      expect(list).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
      const forgedRows = list.split('\n').filter((line) => line.startsWith('10.1.204.0/24'));
      expect(forgedRows).toHaveLength(1);
      expect(forgedRows[0]).toContain(`${backend}\\n10.1.99.0/24   6.6.6.6   forged\\x1b[31m\\x07`);
      expect(list.split('\n').some((line) => line.startsWith('10.1.99.0/24'))).toBe(false);

      // The alias key of the real peer goes away: the real peer stays programmed and reachable.
      await client.delete().key(`${PREFIX}10.1.${peerThird}.9-24`).exec();
      await h1.flanneld!.waitForOutput(/rejected peer lease is gone key=\S+10\.1\.\d+\.9-24/, 10_000);
      await new Promise((r) => setTimeout(r, 500));
      expect(await overlayEntries(backend, h1)).toEqual(await expectedEntries(backend, h2, peerMac));
      expect(await bothWays(c1, c2)).toBe(true);

      // A rejected lease made valid is programmed like any new peer (10.1.200.0/24 now with a real address).
      if (backend !== 'udp') {
        await client.put(`${PREFIX}10.1.200.0-24`).value(attrs(backend, '192.0.2.80', '02:00:00:00:ff:80')).exec();
        await h1.flanneld!.waitForOutput(/peer lease admitted now key=\S+10\.1\.200\.0-24/, 10_000);
        await waitFor(async () => (await overlayEntries(backend, h1)).some((e) => e.startsWith('route 10.1.200.0/24')), { what: 'the fixed lease programmed' });
        expect(await underlayRoutes(h1)).toEqual(before.h1);
      }
    } finally {
      client.close();
    }
  });
});

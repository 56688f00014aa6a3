/**
 * The demo: two hosts in network namespaces join 10.1.0.0/16 through a real etcd, each gets a /24 from flanneld,
 * and a container on host 1 pings a container on host 2 over the overlay. Prints each step; always cleans up.
 *
 *   pnpm demo [--backend udp] [--hosts 2] [--verbose]
 */
import { parseArgs } from 'node:util';
import { startLab } from './lab.js';

const SUPPORTED_BACKENDS = ['udp', 'vxlan', 'host-gw'];

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'udp' },
    hosts: { type: 'string', default: '2' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(`Usage: pnpm demo [--backend ${SUPPORTED_BACKENDS.join('|')}] [--hosts N] [--verbose]

Starts a lab of N hosts (network namespaces on one underlay, 192.0.2.0/24) with a real etcd, sets the flannel
network 10.1.0.0/16 with flannelctl, runs flanneld on every host, prints each host's subnet.env and overlay
device, then pings host 2's container from host 1's container. Everything is removed at the end.
Needs root (network namespaces, TUN). --verbose shows flanneld's own log.
`);
  process.exit(0);
}
if (!SUPPORTED_BACKENDS.includes(values.backend)) {
  process.stderr.write(`demo: --backend must be one of ${SUPPORTED_BACKENDS.join(', ')}, got "${values.backend}"\n`);
  process.exit(2);
}
const hostCount = Number(values.hosts);
if (!Number.isInteger(hostCount) || hostCount < 2 || hostCount > 20) {
  process.stderr.write(`demo: --hosts must be a whole number from 2 to 20, got "${values.hosts}"\n`);
  process.exit(2);
}

const step = (text: string) => process.stdout.write(`\n==> ${text}\n`);
const show = (text: string) => process.stdout.write(text.replace(/^/gm, '    ').trimEnd() + '\n');

step(`starting a ${hostCount}-host lab with etcd`);
await using lab = await startLab({ hosts: hostCount, say: (line) => show(line), echoFlanneld: values.verbose });

step(`flannelctl config set 10.1.0.0/16 --backend ${values.backend}`);
show(await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', values.backend]));

for (const host of lab.hosts) {
  step(`host ${host.index}: starting flanneld (--iface=eth0 --etcd-endpoints=${lab.etcdEndpoint})`);
  await lab.startFlanneld(host);
  show(`flanneld pid ${host.flanneld?.pid}; ${host.subnetFile}:`);
  show(await host.exec('cat', [host.subnetFile]));
}

step('leases in etcd (flannelctl leases list)');
show(await lab.flannelctl(['leases', 'list']));

for (const host of lab.hosts) {
  step(`host ${host.index}: overlay device and routes`);
  const device = { udp: 'flannel0', vxlan: 'flannel.1' }[values.backend];
  if (device) show(await host.exec('ip', ['-d', 'addr', 'show', device]));
  show(await host.exec('ip', ['route', 'show']));
  if (values.backend === 'vxlan') {
    show('neighbours:\n' + (await host.exec('ip', ['neigh', 'show', 'dev', 'flannel.1'])));
    show('fdb:\n' + (await host.exec('bridge', ['fdb', 'show', 'dev', 'flannel.1'])));
  }
}

step('one container per host on its flannel subnet (bridge cbr0, as docker0 with --bip=$FLANNEL_SUBNET)');
const containers = [];
for (const host of lab.hosts) {
  const container = await lab.addContainer(host);
  containers.push(container);
  show(`host ${host.index} container ${container.name}: ${container.ip}`);
}

const [from, to] = [containers[0]!, containers[1]!];
step(`host 1 container (${from.ip}) pings host 2 container (${to.ip})`);
try {
  show(await from.exec('ping', ['-c', '4', '-i', '0.3', '-W', '2', to.ip]));
  step('the overlay works: cleaning up');
} catch (err) {
  process.exitCode = 1;
  show(`ping failed: ${(err as Error).message}`);
  for (const host of lab.hosts) show(host.flanneld?.output() ?? '');
}

/**
 * The demo: two hosts in network namespaces join 10.1.0.0/16 through a real etcd, each gets a /24 from flanneld,
 * and a container on host 1 pings a container on host 2 over the overlay. Prints each step; always cleans up.
 * With --docker, each host runs a real dockerd instead of the lab's cbr0 bridge: flannel-docker-setup moves it
 * onto the flannel subnet, and `docker run` containers talk across hosts.
 *
 *   pnpm demo [--backend udp] [--hosts 2] [--verbose] [--docker [--docker-mode env-file|daemon-json]]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dockerUnavailable, startDockerLab, type DockerOptionsMode, type LabDockerHost } from './docker.js';
import { startLab } from './lab.js';

const SUPPORTED_BACKENDS = ['udp', 'vxlan', 'host-gw'];
const DOCKER_MODES: readonly DockerOptionsMode[] = ['env-file', 'daemon-json'];
const NETWORK = '10.1.0.0/16';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'udp' },
    hosts: { type: 'string', default: '2' },
    verbose: { type: 'boolean', default: false },
    docker: { type: 'boolean', default: false },
    'docker-mode': { type: 'string', default: 'env-file' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  // One help text, shared with scripts/demo.sh (which prints it before setting anything up).
  process.stdout.write(readFileSync(new URL('../usage/demo.txt', import.meta.url), 'utf8'));
  process.exit(0);
}
if (!SUPPORTED_BACKENDS.includes(values.backend)) {
  process.stderr.write(`demo: --backend must be one of ${SUPPORTED_BACKENDS.join(', ')}, got "${values.backend}"\n`);
  process.exit(2);
}
if (!(DOCKER_MODES as readonly string[]).includes(values['docker-mode'])) {
  process.stderr.write(`demo: --docker-mode must be one of ${DOCKER_MODES.join(', ')}, got "${values['docker-mode']}"\n`);
  process.exit(2);
}
const dockerMissing = values.docker ? dockerUnavailable() : undefined;
if (dockerMissing) {
  process.stderr.write(`demo: --docker needs Docker: ${dockerMissing}\n`);
  process.exit(1);
}
const hostCount = Number(values.hosts);
if (!Number.isInteger(hostCount) || hostCount < 2 || hostCount > 20) {
  process.stderr.write(`demo: --hosts must be a whole number from 2 to 20, got "${values.hosts}"\n`);
  process.exit(2);
}

const step = (text: string) => process.stdout.write(`\n==> ${text}\n`);
const show = (text: string) => process.stdout.write(text.replace(/^/gm, '    ').trimEnd() + '\n');

step(`starting a ${hostCount}-host lab with etcd`);
await using lab = await startLab({
  hosts: hostCount,
  say: (line) => show(line),
  echoFlanneld: values.verbose,
  // flanneld masquerades (it writes FLANNEL_IPMASQ=true), so Docker gets --ip-masq=false, as flannel users set it up.
  ...(values.docker ? { flanneldArgs: ['--ip-masq'] } : {}),
});
const dockerMode = values['docker-mode'] as DockerOptionsMode;
if (values.docker) step(`starting a dockerd on every host (${dockerMode} mode), on Docker's default subnet for now`);
await using docker = values.docker ? await startDockerLab(lab, { mode: dockerMode, network: NETWORK, say: (line) => show(line) }) : undefined;

step(`flannelctl config set ${NETWORK} --backend ${values.backend}`);
show(await lab.flannelctl(['config', 'set', NETWORK, '--backend', values.backend]));

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

if (docker) {
  await runDockerDemo(docker.hosts);
} else {
  await runBridgeDemo();
}

async function runDockerDemo(hosts: readonly LabDockerHost[]): Promise<void> {
  for (const dh of hosts) {
    step(`host ${dh.host.index}: flannel-docker-setup (docker0 is ${await bridgeAddress(dh)})`);
    show(`$ flannel-docker-setup ${dh.setupArgs().map(shellQuote).join(' ')}`);
    const result = await dh.setup();
    show(result.stdout + result.stderr);
    if (result.code !== 0) {
      process.exitCode = 1;
      show(`flannel-docker-setup exited ${result.code}; dockerd's log:\n${dh.log().split('\n').slice(-15).join('\n')}`);
      return;
    }
    if (dockerMode === 'env-file') show(`${dh.optsFile}:\n${await dh.host.exec('cat', [dh.optsFile])}`);
    else show(`${dh.daemonJson}:\n${await dh.host.exec('cat', [dh.daemonJson])}`);
    show(`dockerd pid ${dh.pid()}${dh.flags().length > 0 ? ` now runs with ${dh.flags().join(' ')}` : ''}; docker0 is ${await bridgeAddress(dh)}`);
  }

  const [h1, h2] = [hosts[0]!, hosts[1]!];
  step('docker run: a container on host 1, a container and a TCP server on host 2');
  await h1.runContainer('c1', ['sleep', '600']);
  await h2.runContainer('c2', ['sleep', '600']);
  // The server answers each connection with netstat: the peer address as host 2's container sees it.
  await h2.runContainer('srv', ['nc', '-ll', '-p', '7000', '-e', 'netstat', '-tn']);
  const [c1, c2, srv] = await Promise.all([h1.containerIp('c1'), h2.containerIp('c2'), h2.containerIp('srv')]);
  show(`host 1: c1 ${c1}\nhost 2: c2 ${c2}, srv ${srv} (nc -ll -p 7000 -e netstat -tn)`);

  step(`host 1 container c1 (${c1}) pings host 2 container c2 (${c2})`);
  try {
    show(await h1.docker(['exec', 'c1', 'ping', '-c', '4', '-i', '0.3', '-W', '2', c2]));
    step(`c1 opens TCP to srv (${srv}:7000); srv reports who connected`);
    const seen = await h1.docker(['exec', 'c1', 'nc', '-w', '3', srv, '7000']);
    show(seen);
    const kept = new RegExp(`${srv.replace(/\./g, '\\.')}:7000\\s+(::ffff:)?${c1.replace(/\./g, '\\.')}:\\d+`).test(seen);
    show(kept ? `the source address is c1's own ${c1}: no NAT on the way` : `expected ${c1} as the source`);
    if (!kept) process.exitCode = 1;
  } catch (err) {
    process.exitCode = 1;
    show(`failed: ${(err as Error).message}`);
    for (const host of lab.hosts) show(host.flanneld?.output() ?? '');
    return;
  }

  step('flannel-docker-setup again on host 1: nothing to change');
  const again = await h1.setup();
  show(again.stdout + again.stderr);
  step(process.exitCode ? 'something failed: cleaning up' : 'Docker on the overlay works: cleaning up');
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function bridgeAddress(dh: LabDockerHost): Promise<string> {
  const links = await dh.host.ipJson<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(['-4', 'addr', 'show', 'docker0']);
  return links[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || 'without an address';
}

async function runBridgeDemo(): Promise<void> {
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
}

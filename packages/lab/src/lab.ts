/**
 * The lab: N hosts as network namespaces on one underlay, the way flannel's users run it on real machines.
 *
 *   switch namespace  bridge br0 192.0.2.1/24, etcd listening on 192.0.2.1:2379
 *   host i            eth0 192.0.2.(10+i)/24 (veth to br0), forwarding on, one flanneld
 *   container j of i  eth0 <FLANNEL_SUBNET>.(1+j) (veth to the host's bridge cbr0, which holds FLANNEL_SUBNET's
 *                     gateway, like docker0), default route via the gateway, MTU FLANNEL_MTU
 *
 * Only addresses inside these namespaces are ever used (192.0.2.0/24 is a documentation range). Every name
 * carries this process's PID, and teardown (always run through `await using`) stops flanneld and etcd by PID,
 * deletes every namespace and removes the temp directory.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSubnetEnv, type SubnetEnvFile } from '@flannel-ts/subnet-env';
import {
  createTempDir,
  deleteNetns,
  netnsHandle,
  run,
  startDaemon,
  startEtcd,
  sweepStaleNetns,
  uniqueName,
  waitFor,
  type DaemonProcess,
  type EtcdServer,
  type Netns,
} from '@flannel-ts/testkit';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = {
  flanneld: join(REPO, 'bin', 'flanneld'),
  flannelctl: join(REPO, 'bin', 'flannelctl'),
};

export const UNDERLAY_PREFIX = '192.0.2';
export const ETCD_ADDRESS = `${UNDERLAY_PREFIX}.1`;
/** The IPv6 underlay of a dual-stack lab (documentation range). */
export const UNDERLAY_V6_PREFIX = '2001:db8::';

export type NetnsHandle = Omit<Netns, typeof Symbol.asyncDispose>;

export interface LabContainer extends NetnsHandle {
  readonly host: LabHost;
  readonly ip: string;
}

export interface LabHost extends NetnsHandle {
  readonly index: number;
  readonly underlayIp: string;
  readonly subnetFile: string;
  readonly containers: LabContainer[];
  flanneld: DaemonProcess | undefined;
  /** The flanneld run stopped last (its output stays readable). */
  lastFlanneld: DaemonProcess | undefined;
  /** The subnet.env flanneld wrote (read fresh each call). */
  subnetEnv(): Promise<SubnetEnvFile>;
}

export interface LabOptions {
  readonly hosts: number;
  /** Prints what the lab does, for the demo. */
  readonly say?: (line: string) => void;
  /** Extra flanneld flags for every host. */
  readonly flanneldArgs?: readonly string[];
  /** Show flanneld's log on stderr. */
  readonly echoFlanneld?: boolean;
  /** Also give the underlay IPv6 addresses (2001:db8::/64), for dual-stack networks. */
  readonly ipv6?: boolean;
}

export interface Lab extends AsyncDisposable {
  readonly id: string;
  /** The underlay switch's namespace (holds etcd at 192.0.2.1). */
  readonly switchNamespace: string;
  readonly etcd: EtcdServer;
  /** etcd as the hosts reach it over the underlay. */
  readonly etcdEndpoint: string;
  readonly hosts: LabHost[];
  readonly dir: string;
  /** Runs bin/flannelctl against the lab's etcd; resolves with stdout. */
  flannelctl(args: readonly string[]): Promise<string>;
  startFlanneld(host: LabHost, extraArgs?: readonly string[]): Promise<DaemonProcess>;
  stopFlanneld(host: LabHost, signal?: NodeJS.Signals): Promise<number | null>;
  /** Adds a container on the host's bridge, addressed from the host's FLANNEL_SUBNET. */
  addContainer(host: LabHost): Promise<LabContainer>;
}

async function ipIn(ns: string, args: readonly string[]): Promise<string> {
  return run('ip', ['-n', ns, ...args]);
}

export async function startLab(options: LabOptions): Promise<Lab> {
  const say = options.say ?? (() => undefined);
  await sweepStaleNetns();
  const namespaces: string[] = [];
  const daemons: DaemonProcess[] = [];
  const tmp = await createTempDir('flannel-lab-');
  let etcd: EtcdServer | undefined;

  const teardown = async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGTERM').catch(() => undefined)));
    if (etcd) await Promise.resolve(etcd[Symbol.asyncDispose]()).catch(() => undefined);
    for (const ns of namespaces.reverse()) await deleteNetns(ns);
    await tmp[Symbol.asyncDispose]();
  };

  try {
    const id = uniqueName();
    const switchNs = `${id}sw`;
    await run('ip', ['netns', 'add', switchNs]);
    namespaces.push(switchNs);
    await ipIn(switchNs, ['link', 'set', 'lo', 'up']);
    await ipIn(switchNs, ['link', 'add', 'br0', 'type', 'bridge']);
    await ipIn(switchNs, ['addr', 'add', `${ETCD_ADDRESS}/24`, 'dev', 'br0']);
    if (options.ipv6) await ipIn(switchNs, ['addr', 'add', `${UNDERLAY_V6_PREFIX}1/64`, 'dev', 'br0', 'nodad']);
    await ipIn(switchNs, ['link', 'set', 'br0', 'up']);
    say(`underlay: namespace ${switchNs}, bridge br0 ${ETCD_ADDRESS}/24`);

    etcd = await startEtcd({ netns: switchNs, listenAddress: ETCD_ADDRESS });
    const etcdEndpoint = etcd.endpoint;
    say(`etcd: ${etcdEndpoint} (pid ${etcd.pid})`);

    const hosts: LabHost[] = [];
    for (let i = 1; i <= options.hosts; i++) {
      const name = `${id}h${i}`;
      await run('ip', ['netns', 'add', name]);
      namespaces.push(name);
      const underlayIp = `${UNDERLAY_PREFIX}.${10 + i}`;
      await ipIn(name, ['link', 'set', 'lo', 'up']);
      await run('ip', ['link', 'add', 'eth0', 'netns', name, 'type', 'veth', 'peer', 'name', `vh${i}`, 'netns', switchNs]);
      await ipIn(switchNs, ['link', 'set', `vh${i}`, 'master', 'br0', 'up']);
      await ipIn(name, ['addr', 'add', `${underlayIp}/24`, 'dev', 'eth0']);
      await ipIn(name, ['link', 'set', 'eth0', 'up']);
      await run('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      if (options.ipv6) {
        await ipIn(name, ['addr', 'add', `${UNDERLAY_V6_PREFIX}${10 + i}/64`, 'dev', 'eth0', 'nodad']);
        await run('ip', ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
      }
      const dir = join(tmp.path, `h${i}`);
      await mkdir(dir, { recursive: true });
      const subnetFile = join(dir, 'subnet.env');
      hosts.push({
        ...netnsHandle(name),
        index: i,
        underlayIp,
        subnetFile,
        containers: [],
        flanneld: undefined,
        lastFlanneld: undefined,
        subnetEnv: async () => parseSubnetEnv(await readFile(subnetFile, 'utf8')),
      });
      say(`host ${i}: namespace ${name}, eth0 ${underlayIp}/24`);
    }

    const lab: Lab = {
      id,
      switchNamespace: switchNs,
      etcd,
      etcdEndpoint,
      hosts,
      dir: tmp.path,
      flannelctl: (args) => run(BIN.flannelctl, [...args, `--etcd-endpoints=${etcd!.localEndpoint}`]),
      async startFlanneld(host, extraArgs = []) {
        const flanneld = startDaemon(
          'ip',
          ['netns', 'exec', host.name, BIN.flanneld, `--etcd-endpoints=${etcdEndpoint}`, '--iface=eth0', `--subnet-file=${host.subnetFile}`, ...(options.flanneldArgs ?? []), ...extraArgs],
          { echo: options.echoFlanneld ?? false },
        );
        daemons.push(flanneld);
        host.flanneld = flanneld;
        await flanneld.waitForOutput(/flanneld is running/, 30_000);
        await waitFor(() => existsSync(host.subnetFile), { what: `${host.subnetFile}` });
        return flanneld;
      },
      async stopFlanneld(host, signal = 'SIGTERM') {
        const code = (await host.flanneld?.stop(signal)) ?? null;
        host.lastFlanneld = host.flanneld;
        host.flanneld = undefined;
        return code;
      },
      async addContainer(host) {
        const env = await host.subnetEnv();
        const subnet = env.subnet;
        const gateway = env.variables['FLANNEL_SUBNET'];
        if (!subnet || !gateway || !env.mtu) throw new Error(`host ${host.index} has no usable subnet.env yet`);
        const mtu = String(env.mtu);
        if (host.containers.length === 0) {
          // The host's container bridge, as docker0 would be after `dockerd --bip=$FLANNEL_SUBNET --mtu=$FLANNEL_MTU`.
          await ipIn(host.name, ['link', 'add', 'cbr0', 'type', 'bridge']);
          await ipIn(host.name, ['addr', 'add', gateway, 'dev', 'cbr0']);
          await ipIn(host.name, ['link', 'set', 'cbr0', 'mtu', mtu, 'up']);
        }
        const j = host.containers.length + 1;
        const name = `${host.name}c${j}`;
        await run('ip', ['netns', 'add', name]);
        namespaces.push(name);
        const ip = subnet.addressText(BigInt(1 + j));
        await ipIn(name, ['link', 'set', 'lo', 'up']);
        await run('ip', ['link', 'add', 'eth0', 'netns', name, 'type', 'veth', 'peer', 'name', `vc${j}`, 'netns', host.name]);
        await ipIn(host.name, ['link', 'set', `vc${j}`, 'master', 'cbr0', 'mtu', mtu, 'up']);
        await ipIn(name, ['addr', 'add', `${ip}/${subnet.prefixLength}`, 'dev', 'eth0']);
        await ipIn(name, ['link', 'set', 'eth0', 'mtu', mtu, 'up']);
        await ipIn(name, ['route', 'add', 'default', 'via', subnet.addressText(1n)]);
        const container: LabContainer = { ...netnsHandle(name), host, ip };
        host.containers.push(container);
        return container;
      },
      [Symbol.asyncDispose]: teardown,
    };
    return lab;
  } catch (err) {
    await teardown();
    throw err;
  }
}

/**
 * `flannelctl doctor`: what it accepts. What it does is in run/doctor.ts (and doctor/), loaded when it runs.
 */
import { DEFAULT_SUBNET_FILE } from '@flannel-ts/subnet-env/paths';
import { defineCommand, type Command } from '../command.js';
import { DEFAULT_EXPIRY_WARNING_MS } from './status.js';

const DEFAULT_PROBE_TIMEOUT_MS = 1000;
const DEFAULT_ETCD_TIMEOUT_MS = 5000;

export interface DoctorArgs {
  readonly json: boolean;
  readonly subnetFile: string | undefined;
  readonly healthzUrl: string | undefined;
  readonly iface: string | undefined;
  readonly probeTimeoutMs: number;
  readonly etcdTimeoutMs: number;
  readonly expiryWarningMs: number;
}

export const doctorCommand: Command = defineCommand<DoctorArgs>({
  name: 'doctor',
  args: '',
  summary: 'check this host end to end and say how to fix each problem',
  details:
    'Run it on a flannel host (as root). It checks: flanneld running and ready (its health endpoint), etcd and the\n' +
    'config, this host\'s lease (found by the subnet in subnet.env, else by public IP) and duplicate public IPs,\n' +
    'subnet.env against the lease and config, the interface, the backend device (type, VNI, MAC as in the lease, up,\n' +
    'address), the MTU (device, FLANNEL_MTU, interface, container bridge), the kernel entries the peer leases call for\n' +
    '(routes, neighbours, FDB: missing, wrong and stale ones listed), the firewall rules (masquerade when\n' +
    'FLANNEL_IPMASQ=true, forward rules when present) and each peer subnet\'s gateway (a ping, then a full-size ping\n' +
    'that must not need fragmenting). Each finding is ✓ ok, ! warning or ✗ failure, with the fix under it.\n' +
    'Unless given, --subnet-file and the health endpoint come from the running flanneld\'s flags (or its FLANNELD_*\n' +
    'variables), then from flannelctl\'s FLANNELD_SUBNET_FILE / FLANNELD_HEALTHZ_PORT. If etcd is unreachable, that is\n' +
    'reported and the local checks still run. Exit 1 when any check fails (warnings do not), 0 otherwise.\n' +
    '--json prints {host, findings: [{check, status, message, fix}], summary}.',
  options: [
    { flag: 'json', help: 'print the findings as JSON' },
    { flag: 'subnet-file', value: '<path>', help: `flanneld's subnet.env (default: flanneld's --subnet-file, else ${DEFAULT_SUBNET_FILE})` },
    { flag: 'healthz-url', value: '<url>', help: 'flanneld\'s health endpoint, e.g. http://127.0.0.1:8471 (default: from flanneld\'s --healthz-ip/--healthz-port)' },
    { flag: 'iface', value: '<name>', help: 'interface flannel traffic uses (default: the one holding the lease\'s public IP)' },
    { flag: 'probe-timeout', value: '<duration>', help: 'how long to wait for each peer to answer a ping (default 1s)' },
    { flag: 'etcd-timeout', value: '<duration>', help: 'how long to wait for etcd before reporting it unreachable (default 5s)' },
    { flag: 'expiry-warning', value: '<duration>', help: 'fail when the own lease has less than this left (default 60m; a bare number is minutes)' },
  ],
  examples: [
    'flannelctl doctor',
    'flannelctl doctor --healthz-url http://127.0.0.1:8471 --subnet-file /run/flannel/subnet.env',
    'flannelctl doctor --json | jq \'.findings[] | select(.status != "ok")\'',
  ],
  lifetime: 'self-timed',
  parse: (_positionals, o) => ({
    json: o.bool('json') ?? false,
    subnetFile: o.last('subnet-file'),
    healthzUrl: o.last('healthz-url'),
    iface: o.last('iface'),
    probeTimeoutMs: o.duration('probe-timeout', 's') ?? DEFAULT_PROBE_TIMEOUT_MS,
    etcdTimeoutMs: o.duration('etcd-timeout', 's') ?? DEFAULT_ETCD_TIMEOUT_MS,
    expiryWarningMs: o.duration('expiry-warning', 'm') ?? DEFAULT_EXPIRY_WARNING_MS,
  }),
  run: async (args, ctx) => (await import('../run/doctor.js')).doctor(args, ctx),
});

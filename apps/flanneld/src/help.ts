/**
 * flanneld's --help and man page, both from the flag table (options.ts) through core's one help renderer. Loads
 * nothing but the table: `flanneld --help` and `--version` never load etcd3 or a backend.
 */
import { renderHelp, renderManPage, type HelpDocument, type HelpOption } from '@flannel-ts/core/command-line';
import packageJson from '../package.json' with { type: 'json' };
import { FLAGS, UNIT_VARIABLES, UNSUPPORTED_FLAGS, envName, type FlanneldOptions } from './options.js';

export const PROGRAM = 'flanneld';
export const VERSION: string = packageJson.version;

type Section = 'etcd' | 'Interface' | 'Subnet lease' | 'Firewall and routes' | 'Health' | 'Logging' | 'Other';

/** Where each flag is listed; the mapped type puts every flag in a section. */
const SECTION_OF: { readonly [K in keyof FlanneldOptions]: Section } = {
  etcdEndpoints: 'etcd',
  etcdPrefix: 'etcd',
  etcdKeyfile: 'etcd',
  etcdCertfile: 'etcd',
  etcdCafile: 'etcd',
  etcdUsername: 'etcd',
  etcdPassword: 'etcd',
  iface: 'Interface',
  ifaceRegex: 'Interface',
  ifaceCanReach: 'Interface',
  publicIp: 'Interface',
  publicIpv6: 'Interface',
  subnetFile: 'Subnet lease',
  subnetLeaseRenewMargin: 'Subnet lease',
  subnetLeaseTtl: 'Subnet lease',
  ipMasq: 'Firewall and routes',
  ipMasqFullyRandomDisable: 'Firewall and routes',
  iptablesResync: 'Firewall and routes',
  iptablesForwardRules: 'Firewall and routes',
  ipBlackholeRoute: 'Firewall and routes',
  healthzIp: 'Health',
  healthzPort: 'Health',
  readinessEtcdTimeout: 'Health',
  logLevel: 'Logging',
  logFormat: 'Logging',
  verbosity: 'Logging',
  version: 'Other',
};

/** Value placeholders that say more than `<value>`. */
const VALUE_OF: Partial<Record<keyof FlanneldOptions, string>> = {
  etcdEndpoints: '<url,...>',
  etcdPrefix: '<path>',
  etcdKeyfile: '<file>',
  etcdCertfile: '<file>',
  etcdCafile: '<file>',
  etcdUsername: '<name>',
  etcdPassword: '<password>',
  iface: '<name|ip>',
  ifaceRegex: '<regex>',
  ifaceCanReach: '<ip>',
  publicIp: '<ip>',
  publicIpv6: '<ip>',
  subnetFile: '<file>',
  healthzIp: '<ip>',
  logLevel: '<level>',
  logFormat: 'text|json',
};

const SECTIONS: readonly Section[] = ['etcd', 'Interface', 'Subnet lease', 'Firewall and routes', 'Health', 'Logging', 'Other'];

function optionRow(key: keyof FlanneldOptions): HelpOption {
  const spec = FLAGS[key];
  const shown = spec.placeholder ?? (Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default));
  const value = spec.kind === 'bool' ? undefined : (VALUE_OF[key] ?? (spec.kind === 'int' ? '<n>' : '<value>'));
  return {
    flag: spec.flag,
    // klog's one-letter flag, written as flannel users write it.
    ...(spec.flag === 'v' ? { short: 'v', flag: 'v' } : {}),
    value,
    help: spec.help,
    default: shown === 'none' || shown === '' || (spec.kind === 'bool' && shown === 'false') ? undefined : shown,
    env: spec.noEnv ? undefined : envName(spec.flag),
  };
}

export function helpDocument(): HelpDocument {
  const keys = Object.keys(FLAGS) as (keyof FlanneldOptions)[];
  return {
    program: PROGRAM,
    version: VERSION,
    summary: 'the flannel daemon',
    description:
      'Takes a subnet lease for this host from the network config in etcd, writes it to the subnet file, keeps the lease renewed, ' +
      'and runs the data-path backend named in the config (alloc, udp, vxlan or host-gw). Flags may be written Go-style too ' +
      '(-etcd-endpoints=URL, -ip-masq, -v=2). Every flag can be set with its FLANNELD_* variable; the command line wins. A FLANNELD_* ' +
      `variable that is no flag's is an error (except ${UNIT_VARIABLES.join(', ')}, read by the systemd unit).`,
    usage: [`${PROGRAM} [options]`],
    sections: [
      ...SECTIONS.map((title) => ({ title: `${title} options`, options: keys.filter((key) => SECTION_OF[key] === title).map(optionRow) })).map((section) =>
        section.title === 'Other options' ? { ...section, options: [...section.options, { flag: 'help', short: 'h', help: 'show this help' }] } : section,
      ),
      {
        title: 'Not supported (an error when given)',
        rows: [
          ['Kubernetes mode', `${UNSUPPORTED_FLAGS.filter((f) => f.why.includes('Kubernetes')).map((f) => `--${f.flag}`).join(', ')}: flannel-ts keeps leases in etcd only (--kube-subnet-mgr=false is accepted)`],
          ['klog', `${UNSUPPORTED_FLAGS.filter((f) => f.why.includes('klog')).map((f) => `--${f.flag}`).join(', ')}: use --log-level or -v`],
        ],
      },
    ],
    examples: [
      `${PROGRAM} --etcd-endpoints=http://10.0.0.5:2379 --iface=eth0 --ip-masq`,
      `${PROGRAM} --etcd-endpoints=https://10.0.0.5:2379 --etcd-cafile=/etc/flannel/ca.pem --iface-can-reach=10.0.0.5`,
      `FLANNELD_ETCD_PREFIX=/my/network ${PROGRAM} --public-ip=203.0.113.7 --log-format=json`,
    ],
    exitStatus: '0 stopped by SIGTERM or SIGINT (the lease is kept), 1 failed (the reason is logged), 2 usage error.',
  };
}

export const helpText = (): string => renderHelp(helpDocument());
/** The man page, for the build (scripts/write-man-page.mjs). */
export const manPage = (): { program: string; page: string } => ({ program: PROGRAM, page: renderManPage(helpDocument()) });

/** The flags as the Markdown table of README.md (a test keeps the two equal). */
export function flagTable(): string {
  const rows = (Object.keys(FLAGS) as (keyof FlanneldOptions)[]).map((key) => {
    const option = optionRow(key);
    const name = `\`${option.short === option.flag ? '-' : '--'}${option.flag}${option.value ? ` ${option.value}` : ''}\``;
    return `| ${name} | ${option.env ? `\`${option.env}\`` : '(none)'} | ${option.default ? `\`${option.default}\`` : ''} | ${option.help.replace(/\|/g, '\\|')} |`;
  });
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows, '| `-h`, `--help` | | | show this help |'].join('\n');
}

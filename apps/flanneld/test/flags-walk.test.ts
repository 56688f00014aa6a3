/**
 * Walks every flanneld flag and every FLANNELD_* variable: each is honoured (the command line and the variable give
 * the same option value) or refused with an error naming it; none is silently ignored.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../src/resolve.js';
import { FLAGS, UNSUPPORTED_FLAGS, envName, type FlanneldOptions } from '../src/options.js';

interface Sample {
  readonly value: string;
  readonly expected: unknown;
  /** A value the flag must refuse; absent for free text. */
  readonly bad?: string;
}

/** One sample per flag; a new flag without a sample fails the first test. */
const SAMPLES: { readonly [K in keyof FlanneldOptions]: Sample } = {
  etcdEndpoints: { value: 'http://10.0.0.5:2379,https://10.0.0.6:2379', expected: ['http://10.0.0.5:2379', 'https://10.0.0.6:2379'], bad: 'http://10.0.0.5:notaport' },
  etcdPrefix: { value: '/my/network', expected: '/my/network' },
  etcdKeyfile: { value: '/etc/flannel/key.pem', expected: '/etc/flannel/key.pem' },
  etcdCertfile: { value: '/etc/flannel/cert.pem', expected: '/etc/flannel/cert.pem' },
  etcdCafile: { value: '/etc/flannel/ca.pem', expected: '/etc/flannel/ca.pem' },
  etcdUsername: { value: 'flannel', expected: 'flannel' },
  etcdPassword: { value: '007', expected: '007' },
  iface: { value: 'eth1', expected: ['eth1'] },
  ifaceRegex: { value: '^10\\.', expected: ['^10\\.'], bad: '(' },
  ifaceCanReach: { value: '2001:db8::1', expected: '2001:db8::1', bad: 'abc' },
  publicIp: { value: '192.0.2.7', expected: '192.0.2.7', bad: '300.1.1.1' },
  publicIpv6: { value: '2001:db8::7', expected: '2001:db8::7', bad: '192.0.2.7' },
  subnetFile: { value: '/tmp/x.env', expected: '/tmp/x.env' },
  subnetLeaseRenewMargin: { value: '30', expected: 30, bad: '1440' },
  subnetLeaseTtl: { value: '600', expected: 600, bad: 'abc' },
  ipMasq: { value: 'true', expected: true, bad: 'maybe' },
  ipMasqFullyRandomDisable: { value: 'true', expected: true, bad: 'yes' },
  iptablesResync: { value: '9', expected: 9, bad: '0' },
  iptablesForwardRules: { value: 'false', expected: false, bad: 'nope' },
  ipBlackholeRoute: { value: 'true', expected: true, bad: '2' },
  healthzIp: { value: '127.0.0.1', expected: '127.0.0.1', bad: 'localhost' },
  healthzPort: { value: '8471', expected: 8471, bad: '65536' },
  readinessEtcdTimeout: { value: '5', expected: 5, bad: '-1' },
  logLevel: { value: 'warn', expected: 'warn', bad: 'loud' },
  logFormat: { value: 'json', expected: 'json', bad: 'xml' },
  verbosity: { value: '2', expected: 2, bad: 'abc' },
  version: { value: 'true', expected: true, bad: 'maybe' },
};

const options = (argv: string[], env: Record<string, string> = {}): FlanneldOptions => {
  const parsed = parseArgs(argv, env);
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
};

describe('every flanneld flag and FLANNELD_* variable', () => {
  it('has a sample for every flag', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(FLAGS).sort());
  });

  for (const [key, spec] of Object.entries(FLAGS) as [keyof FlanneldOptions, (typeof FLAGS)[keyof FlanneldOptions]][]) {
    const sample = SAMPLES[key];
    const variable = envName(spec.flag);

    it(`--${spec.flag} and ${variable}`, () => {
      if (key === 'version') {
        // --version ends parsing; its variable is refused (flannel ignores it, we do not ignore anything).
        expect(parseArgs([`--${spec.flag}=${sample.value}`], {}).kind).toBe('version');
        expect(() => parseArgs([], { [variable]: sample.value })).toThrow(new RegExp(variable));
        return;
      }
      expect(options([`--${spec.flag}=${sample.value}`])[key]).toEqual(sample.expected);
      // Go spellings (a Go boolean takes its value only after `=`).
      expect(options(spec.kind === 'bool' ? [`-${spec.flag}=${sample.value}`] : [`-${spec.flag}`, sample.value])[key]).toEqual(sample.expected);
      expect(options([], { [variable]: sample.value })[key]).toEqual(sample.expected);
      // The command line wins over the variable.
      expect(options([`--${spec.flag}=${sample.value}`], { [variable]: sample.bad ?? 'other' })[key]).toEqual(sample.expected);
      if (sample.bad !== undefined) {
        expect(() => parseArgs([`--${spec.flag}=${sample.bad}`], {})).toThrow(new RegExp(`--${spec.flag}|etcd endpoint`));
        expect(() => parseArgs([], { [variable]: sample.bad! })).toThrow(new RegExp(`${variable}|etcd endpoint`));
      }
    });
  }

  it('-v N and FLANNELD_V log at debug level unless --log-level is given', () => {
    expect(options(['-v', '2']).logLevel).toBe('debug');
    expect(options(['-v=0']).logLevel).toBe('info');
    expect(options([], { FLANNELD_V: '3' }).logLevel).toBe('debug');
    expect(options(['-v=3', '--log-level=warn']).logLevel).toBe('warn');
    expect(() => parseArgs([], { FLANNELD_V: 'abc' })).toThrow(/FLANNELD_V: --v must be a whole number/);
  });

  for (const spec of UNSUPPORTED_FLAGS) {
    const variable = envName(spec.flag);
    it(`--${spec.flag} and ${variable} are refused with the reason`, () => {
      const on = spec.kind === 'bool' ? String(!(spec.harmless ?? false)) : 'x';
      const cli = spec.kind === 'bool' && on === 'true' ? [`--${spec.flag}`] : [`--${spec.flag}=${on}`];
      expect(() => parseArgs(cli, {})).toThrow(new RegExp(`--${spec.flag} (is a Kubernetes-mode flag|is a klog flag)`));
      expect(() => parseArgs([], { [variable]: on })).toThrow(new RegExp(`${variable}=${on}: --${spec.flag}`));
      // The value flannel itself has outside Kubernetes mode is accepted.
      if (spec.harmless !== undefined) {
        expect(() => parseArgs([`--${spec.flag}=${spec.harmless}`], {})).not.toThrow();
        expect(() => parseArgs([], { [variable]: String(spec.harmless) })).not.toThrow();
      }
    });
  }

  it('refuses a FLANNELD_* variable that is no flag, and accepts the unit\'s FLANNELD_EXTRA_ARGS', () => {
    expect(() => parseArgs([], { FLANNELD_IFACE_CAN_REECH: '10.0.0.1' })).toThrow(/FLANNELD_IFACE_CAN_REECH is not a flanneld variable \(no flag --iface-can-reech\)/);
    expect(() => parseArgs([], { FLANNELD_EXTRA_ARGS: '--ip-masq' })).not.toThrow();
    expect(options([], { FLANNELD_KUBE_SUBNET_MGR: '' }).etcdPrefix).toBe('/coreos.com/network'); // empty: unset, as flannel
  });

  it('--version works whatever the environment says', () => {
    expect(parseArgs(['--version'], { FLANNELD_BOGUS: '1' }).kind).toBe('version');
  });
});

import { describe, expect, it } from 'vitest';
import { FLAGS, envName, helpText, normalizeArgv, parseArgs } from '../src/index.js';

const run = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseArgs(argv, env);
  if (parsed.kind !== 'run') throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
};

describe('flanneld flags', () => {
  it('has flannel defaults', () => {
    const options = run([]);
    expect(options.etcdEndpoints).toEqual(['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
    expect(options.etcdPrefix).toBe('/coreos.com/network');
    expect(options.subnetFile).toBe('/run/flannel/subnet.env');
    expect(options.subnetLeaseRenewMargin).toBe(60);
    expect(options.ipMasq).toBe(false);
    expect(options.healthzIp).toBe('0.0.0.0');
    expect(options.healthzPort).toBe(0);
    expect(options.iface).toEqual([]);
  });

  it('accepts Go flag spellings used in existing unit files', () => {
    const options = run(['-etcd-endpoints=http://a:2379,http://b:2379', '-iface', 'eth0', '--iface=10.0.0.2', '-ip-masq=true', '-subnet-lease-renew-margin', '30', '-v=2']);
    expect(options.etcdEndpoints).toEqual(['http://a:2379', 'http://b:2379']);
    expect(options.iface).toEqual(['eth0', '10.0.0.2']);
    expect(options.ipMasq).toBe(true);
    expect(options.subnetLeaseRenewMargin).toBe(30);
    expect(options.logLevel).toBe('debug');
    expect(normalizeArgv(['-public-ip', '1.2.3.4', '-ip-masq', '-h', '--', '-x'])).toEqual(['--public-ip', '1.2.3.4', '--ip-masq=true', '-h', '--', '-x']);
  });

  it('keeps values exactly as given', () => {
    expect(run(['--etcd-password', '007', '--iface', '10']).etcdPassword).toBe('007');
    expect(run(['--etcd-password=0x10']).etcdPassword).toBe('0x10');
    expect(run(['--iface', '10']).iface).toEqual(['10']);
  });

  it('reads FLANNELD_* variables for flags not on the command line', () => {
    const options = run(['--etcd-prefix=/cli'], {
      FLANNELD_ETCD_PREFIX: '/env',
      FLANNELD_ETCD_ENDPOINTS: 'http://e:2379',
      FLANNELD_IP_MASQ: 'true',
      FLANNELD_IFACE: 'eth1',
      FLANNELD_SUBNET_FILE: '/tmp/x.env',
      FLANNELD_HEALTHZ_PORT: '8471',
    });
    expect(options.etcdPrefix).toBe('/cli');
    expect(options.etcdEndpoints).toEqual(['http://e:2379']);
    expect(options.ipMasq).toBe(true);
    expect(options.iface).toEqual(['eth1']);
    expect(options.subnetFile).toBe('/tmp/x.env');
    expect(options.healthzPort).toBe(8471);
    expect(options.version).toBe(false);
    // flannel ignores FLANNELD_VERSION; ignoring a variable silently is what we do not do.
    expect(() => parseArgs([], { FLANNELD_VERSION: 'true' })).toThrow(/FLANNELD_VERSION is not read/);
  });

  it('rejects unknown flags, stray arguments and bad values with the flag named', () => {
    expect(() => parseArgs(['--bogus'], {})).toThrow(/unknown flag --bogus/);
    expect(() => parseArgs(['run'], {})).toThrow(/unexpected argument "run"/);
    expect(() => parseArgs(['--subnet-lease-renew-margin=1440'], {})).toThrow(/--subnet-lease-renew-margin must be a whole number from 1 to 1439/);
    expect(() => parseArgs(['--public-ip=300.1.1.1'], {})).toThrow(/--public-ip must be an IPv4 address/);
    expect(() => parseArgs(['--ip-masq=maybe'], {})).toThrow(/--ip-masq takes true or false/);
    expect(() => parseArgs(['--iface-regex=('], {})).toThrow(/not a valid regular expression/);
    expect(() => parseArgs(['--healthz-port'], {})).toThrow(/--healthz-port needs a value/);
    expect(() => parseArgs([], { FLANNELD_HEALTHZ_PORT: 'x' })).toThrow(/FLANNELD_HEALTHZ_PORT: --healthz-port must be a whole number/);
  });

  it('recognises --help and --version', () => {
    expect(parseArgs(['--help'], {}).kind).toBe('help');
    expect(parseArgs(['-h'], {}).kind).toBe('help');
    expect(parseArgs(['-version'], {}).kind).toBe('version');
  });

  it('documents every flag and its variable in --help', () => {
    const help = helpText();
    for (const spec of Object.values(FLAGS)) {
      expect(help).toContain(`--${spec.flag}`);
      if (!spec.noEnv) expect(help).toContain(envName(spec.flag));
    }
    expect(help).toMatch(/Exit status: 0 .* 1 .* 2 usage error/);
    expect(help).toMatch(/^flanneld v\d+\.\d+\.\d+: /);
  });
});

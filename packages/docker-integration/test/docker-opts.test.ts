import { describe, expect, it } from 'vitest';
import { parseSubnetEnv } from '@flannel-ts/subnet-env';
import { DockerSetupError, dockerFlags, dockerOptionsFromSubnetEnv, formatDockerOptsFile, type DockerOptsFileFormat } from '../src/index.js';

/** The input file of flannel's TestMkDockerOpts (dist/mk_docker_opts_test.go). */
const TEST_ENV = 'FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n';
const vars = (text: string) => parseSubnetEnv(text).variables;
const BOTH: DockerOptsFileFormat = { individual: true, combined: true, key: 'DOCKER_OPTS' };

describe('dockerOptionsFromSubnetEnv', () => {
  it('takes --bip from FLANNEL_SUBNET, --mtu from FLANNEL_MTU and inverts FLANNEL_IPMASQ', () => {
    expect(dockerOptionsFromSubnetEnv(vars(TEST_ENV), { ipMasq: true })).toEqual({ bip: '10.1.74.1/24', mtu: 1472, ipMasq: true });
    expect(dockerFlags(dockerOptionsFromSubnetEnv(vars(TEST_ENV), { ipMasq: true }))).toEqual(['--bip=10.1.74.1/24', '--ip-masq=true', '--mtu=1472']);
  });

  it('[run] FLANNEL_IPMASQ=true, MTU 1450 -> --ip-masq=false, --mtu=1450', () => {
    const options = dockerOptionsFromSubnetEnv(vars('FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n'), { ipMasq: true });
    expect(dockerFlags(options)).toEqual(['--bip=10.1.74.1/24', '--ip-masq=false', '--mtu=1450']);
  });

  it('-m leaves ip-masq out', () => {
    expect(dockerOptionsFromSubnetEnv(vars(TEST_ENV), { ipMasq: false })).toEqual({ bip: '10.1.74.1/24', mtu: 1472, ipMasq: undefined });
  });

  it('[run] an IPv6-only subnet.env gives only ip-masq and mtu', () => {
    const env = 'FLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
    expect(dockerFlags(dockerOptionsFromSubnetEnv(vars(env), { ipMasq: true }))).toEqual(['--ip-masq=true', '--mtu=1450']);
  });

  it('reads what flanneld writes in every form the dotenv reader accepts', () => {
    const env = 'export FLANNEL_SUBNET="10.1.74.1/24"  # from flanneld\nFLANNEL_MTU: 1472\n';
    expect(dockerOptionsFromSubnetEnv(vars(env), { ipMasq: true })).toEqual({ bip: '10.1.74.1/24', mtu: 1472, ipMasq: undefined });
  });

  it('refuses an invalid FLANNEL_IPMASQ, naming the file and the fix', () => {
    const run = () => dockerOptionsFromSubnetEnv(vars('FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_IPMASQ=yes\n'), { ipMasq: true, source: '/run/flannel/subnet.env' });
    expect(run).toThrow(DockerSetupError);
    expect(run).toThrow('invalid value of FLANNEL_IPMASQ in /run/flannel/subnet.env: "yes": it must be true or false');
    // With -m the value is never looked at, as in the script.
    expect(dockerOptionsFromSubnetEnv(vars('FLANNEL_IPMASQ=yes\nFLANNEL_MTU=1450\n'), { ipMasq: false })).toEqual({ bip: undefined, mtu: 1450, ipMasq: undefined });
  });

  it.each([
    ['FLANNEL_SUBNET=garbage', /FLANNEL_SUBNET is "garbage": Docker's --bip needs one IPv4 gateway address/],
    ['FLANNEL_SUBNET=10.1.74.0/24', /FLANNEL_SUBNET is "10.1.74.0\/24"/],
    ['FLANNEL_SUBNET=10.1.74.1/24,10.1.75.1/24', /FLANNEL_SUBNET is "10.1.74.1\/24,10.1.75.1\/24"/],
    ['FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=big', /FLANNEL_MTU is "big": it must be a whole number from 68 to 65535/],
    ['FLANNEL_MTU=20', /FLANNEL_MTU is "20"/],
  ])('refuses values the script would pass to dockerd as they are: %s', (env, message) => {
    expect(() => dockerOptionsFromSubnetEnv(vars(env), { ipMasq: true })).toThrow(message);
    try {
      dockerOptionsFromSubnetEnv(vars(env), { ipMasq: true });
    } catch (err) {
      expect((err as DockerSetupError).reason).toBe('SUBNET_ENV_INVALID');
      expect((err as DockerSetupError).code).toBe('CONFIG_INVALID');
    }
  });

  it('treats an empty value as absent, like the script (`[ -n "$FLANNEL_MTU" ]`)', () => {
    expect(dockerOptionsFromSubnetEnv(vars('FLANNEL_SUBNET=10.1.74.1/24\nFLANNEL_MTU=\nFLANNEL_IPMASQ=\n'), { ipMasq: true })).toEqual({
      bip: '10.1.74.1/24',
      mtu: undefined,
      ipMasq: undefined,
    });
  });
});

describe('formatDockerOptsFile (mk-docker-opts output)', () => {
  const options = dockerOptionsFromSubnetEnv(vars(TEST_ENV), { ipMasq: true });

  it('writes the individual variables and the combined one (with its leading space)', () => {
    expect(formatDockerOptsFile(options, BOTH)).toBe(
      'DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\nDOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n',
    );
  });

  it('writes only what is asked for', () => {
    expect(formatDockerOptsFile(options, { ...BOTH, combined: false })).toBe('DOCKER_OPT_BIP="--bip=10.1.74.1/24"\nDOCKER_OPT_IPMASQ="--ip-masq=true"\nDOCKER_OPT_MTU="--mtu=1472"\n');
    expect(formatDockerOptsFile(options, { ...BOTH, individual: false })).toBe('DOCKER_OPTS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n');
    expect(formatDockerOptsFile(options, { ...BOTH, key: 'DOCKER_NETWORK_OPTIONS', individual: false })).toBe(
      'DOCKER_NETWORK_OPTIONS=" --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n',
    );
  });

  it('[run] starts the combined value with the preset one (two spaces, as the script)', () => {
    expect(formatDockerOptsFile(options, { ...BOTH, individual: false, preset: '--foo' })).toBe('DOCKER_OPTS="--foo  --bip=10.1.74.1/24 --ip-masq=true --mtu=1472"\n');
  });

  it('quotes a preset that would break the double quotes', () => {
    expect(formatDockerOptsFile({}, { ...BOTH, individual: false, preset: '--label a="b $c"' })).toBe('DOCKER_OPTS="--label a=\\"b \\$c\\" "\n');
  });

  it('writes DOCKER_OPTS="" when there is nothing to pass', () => {
    expect(formatDockerOptsFile({}, BOTH)).toBe('DOCKER_OPTS=""\n');
  });

  it('refuses a combined key that is not a variable name', () => {
    expect(() => formatDockerOptsFile(options, { ...BOTH, key: 'DOCKER OPTS' })).toThrow(/cannot be the combined variable's name/);
  });
});

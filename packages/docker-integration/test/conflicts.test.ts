import { describe, expect, it } from 'vitest';
import { IpNet } from '@flannel-ts/core';
import { findConflictingRoutes, findFlagConflicts, flagValue, formatFlagConflict, hasFlag, splitCommandLine } from '../src/index.js';
import { assertNoConflictingRoutes } from '../src/routes.js';

describe('dockerd flags', () => {
  it('splits a command line as sh does for plain words', () => {
    expect(splitCommandLine('/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS')).toEqual([
      '/usr/sbin/dockerd',
      '-H',
      'fd://',
      '--containerd=/run/containerd/containerd.sock',
      '$DOCKER_OPTS',
    ]);
    expect(splitCommandLine(` --bip="10.1.74.1/24"  --label 'a b' --x=a\\ b ""`)).toEqual(['--bip=10.1.74.1/24', '--label', 'a b', '--x=a b', '']);
  });

  it('finds long flags in both spellings, and their values', () => {
    const argv = ['--bip', '10.1.74.1/24', '--mtu=1472', '--ip-masqx', '--config-file', '/a.json', '--config-file=/b.json'];
    expect(hasFlag(argv, 'bip')).toBe(true);
    expect(hasFlag(argv, 'mtu')).toBe(true);
    expect(hasFlag(argv, 'ip-masq')).toBe(false);
    expect(flagValue(argv, 'config-file')).toBe('/b.json');
    expect(flagValue(argv, 'bip')).toBe('10.1.74.1/24');
    expect(flagValue(argv, 'pidfile')).toBeUndefined();
  });

  it('reports each key given both as a flag and in daemon.json, naming both places', () => {
    const sources = [
      { label: 'the running dockerd (pid 812)', args: ['-H', 'fd://', '--bip=172.17.0.1/16', '--mtu', '1500'] },
      { label: '--dockerd-args', args: ['--ip-masq=false'] },
    ];
    const conflicts = findFlagConflicts(sources, ['bip', 'mtu', 'ip-masq'], '/etc/docker/daemon.json');
    expect(conflicts.map(formatFlagConflict)).toEqual([
      '--bip is given both as a dockerd flag (in the running dockerd (pid 812)) and in /etc/docker/daemon.json ("bip"): remove one',
      '--mtu is given both as a dockerd flag (in the running dockerd (pid 812)) and in /etc/docker/daemon.json ("mtu"): remove one',
      '--ip-masq is given both as a dockerd flag (in --dockerd-args) and in /etc/docker/daemon.json ("ip-masq"): remove one',
    ]);
    expect(findFlagConflicts(sources, ['bip'], 'x').length).toBe(1);
    expect(findFlagConflicts([{ label: 'x', args: ['--debug'] }], ['bip', 'mtu'], 'x')).toEqual([]);
  });
});

describe('routes that already lead to the subnet (mk-docker-opts\' last check)', () => {
  const subnet = IpNet.parse('10.1.74.0/24')!;

  it('finds a route through a gateway to the subnet or part of it', () => {
    const routes = [
      { dst: '10.1.74.0/24', gateway: '192.0.2.12', dev: 'eth0' },
      { dst: '10.1.74.128/25', gateway: '10.1.74.128', dev: 'flannel.1' },
      { dst: '10.1.74.9', gateway: '192.0.2.13', dev: 'eth0' },
    ];
    expect(findConflictingRoutes(subnet, routes)).toEqual(routes);
    expect(() => assertNoConflictingRoutes(subnet, routes.slice(0, 1))).toThrow(
      'your routing table already contains the subnet 10.1.74.0/24 (10.1.74.0/24 via 192.0.2.12 dev eth0): containers on docker0 would be unreachable. Another host may hold this subnet, or a stale route was left behind; remove it (ip route del 10.1.74.0/24 dev eth0) and run again',
    );
  });

  it('leaves alone routes without a gateway, wider routes, the default route and look-alikes', () => {
    const routes = [
      { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
      { dst: '10.1.0.0/16', dev: 'flannel0' },
      { dst: '10.1.0.0/16', gateway: '192.0.2.1', dev: 'eth0' },
      { dst: '10.1.74.0/24', dev: 'docker0' },
      { dst: '110.1.74.0/24', gateway: '192.0.2.1', dev: 'eth0' },
      { dst: '10.1.75.0/24', gateway: '10.1.75.0', dev: 'flannel.1' },
    ];
    expect(findConflictingRoutes(subnet, routes)).toEqual([]);
    expect(() => assertNoConflictingRoutes(subnet, routes)).not.toThrow();
  });
});

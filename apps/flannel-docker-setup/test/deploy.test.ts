/**
 * deploy/ must agree with this tool: the setup unit's command line parses, it never restarts Docker from a unit
 * ordered before docker.service, and Docker's drop-in reads the file and the variable the unit writes.
 * (`systemd-analyze verify` accepts the units too; it needs the binaries installed, so it is not run here.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitCommandLine } from '@flannel-ts/docker-integration';
import { parseCommandLine } from '../src/index.js';
import { REPO } from './helpers.js';

const SYSTEMD = join(REPO, 'deploy', 'systemd');

/** The settings of a unit file or drop-in: key -> values in order; an empty value resets the list, as systemd does. */
function readUnit(...files: string[]): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const file of files) {
    let section = '';
    for (const line of readFileSync(join(SYSTEMD, file), 'utf8').split('\n')) {
      const header = /^\[(\w+)\]$/.exec(line);
      if (header) section = header[1]!;
      const entry = /^(\w+)=(.*)$/.exec(line);
      if (!entry) continue;
      const key = `${section}.${entry[1]}`;
      const value = entry[2]!;
      settings.set(key, value === '' ? [] : [...(settings.get(key) ?? []), value]);
    }
  }
  return settings;
}

function setupInvocation(execStart: string) {
  const [binary, ...argv] = splitCommandLine(execStart);
  expect(binary).toBe('/usr/local/bin/flannel-docker-setup');
  const invocation = parseCommandLine(argv);
  if (invocation.kind !== 'run') throw new Error('expected a run');
  return invocation;
}

describe('deploy/systemd', () => {
  it('env-file mode: Docker reads the file and variable that flannel-docker-setup.service writes', () => {
    const setup = readUnit('flannel-docker-setup.service');
    const [execStart, ...more] = setup.get('Service.ExecStart') ?? [];
    expect(more).toEqual([]);
    const invocation = setupInvocation(execStart!);
    expect(invocation.restart).toEqual({ kind: 'none', why: 'asked' });
    expect(invocation.request.subnetFile).toBe('/run/flannel/subnet.env');
    if (invocation.request.target.kind !== 'env-file') throw new Error('expected env-file mode');
    const { path, format } = invocation.request.target;
    expect(setup.get('Unit.After')).toEqual(['flanneld.service']);
    expect(setup.get('Unit.Before')).toEqual(['docker.service']);

    const docker = readUnit('docker.service.d/flannel.conf');
    expect(docker.get('Service.EnvironmentFile')).toEqual([path]);
    const [dockerd] = docker.get('Service.ExecStart') ?? [];
    expect(splitCommandLine(dockerd!)).toContain(`$${format.key}`);
    expect(docker.get('Unit.Requires')).toEqual(['flannel-docker-setup.service']);
    expect(docker.get('Unit.After')?.join(' ')).toMatch(/flanneld.service.*flannel-docker-setup.service/);
  });

  it('daemon.json mode: the override writes daemon.json and Docker\'s drop-in only orders', () => {
    const setup = readUnit('flannel-docker-setup.service', 'daemon-json/flannel-docker-setup.service.d/daemon-json.conf');
    const [execStart, ...more] = setup.get('Service.ExecStart') ?? [];
    expect(more).toEqual([]);
    const invocation = setupInvocation(execStart!);
    expect(invocation.restart).toEqual({ kind: 'none', why: 'asked' });
    expect(invocation.request.target).toEqual({ kind: 'daemon-json', path: '/etc/docker/daemon.json' });
    const docker = readUnit('daemon-json/docker.service.d/flannel.conf');
    expect(docker.get('Service.ExecStart')).toBeUndefined();
    expect(docker.get('Service.EnvironmentFile')).toBeUndefined();
    expect(docker.get('Unit.Requires')).toEqual(['flannel-docker-setup.service']);
  });

  it('flanneld.service starts before the setup and Docker, from /etc/default/flanneld', () => {
    const flanneld = readUnit('flanneld.service');
    expect(flanneld.get('Unit.Before')?.join(' ')).toMatch(/flannel-docker-setup.service.*docker.service/);
    expect(flanneld.get('Service.EnvironmentFile')).toEqual(['-/etc/default/flanneld']);
    // flanneld notifies systemd (READY=1): the unit must say so, or the notification is ignored.
    expect(flanneld.get('Service.Type')).toEqual(['notify']);
    const defaults = readFileSync(join(REPO, 'deploy', 'default', 'flanneld'), 'utf8');
    for (const variable of defaults.matchAll(/^#?(FLANNELD_[A-Z_]+)=/gm)) expect(variable[1]).toMatch(/^FLANNELD_(ETCD_ENDPOINTS|ETCD_PREFIX|IFACE|IP_MASQ|SUBNET_FILE|EXTRA_ARGS)$/);
  });
});

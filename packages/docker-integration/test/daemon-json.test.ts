import { describe, expect, it } from 'vitest';
import { DockerSetupError, mergeDaemonJson, parseDaemonJson } from '../src/index.js';

const FLANNEL = { bip: '10.1.74.1/24', mtu: 1472, ipMasq: false };
const PATH = '/etc/docker/daemon.json';

describe('mergeDaemonJson', () => {
  it('adds bip, mtu and ip-masq and keeps every other key, in order', () => {
    const text = '{\n  "log-level": "warn",\n  "storage-driver": "overlay2",\n  "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}\n}\n';
    const merged = mergeDaemonJson(text, FLANNEL, PATH);
    expect(merged.changed).toBe(true);
    expect(merged.changedKeys).toEqual(['bip', 'mtu', 'ip-masq']);
    expect(JSON.parse(merged.text)).toEqual({
      'log-level': 'warn',
      'storage-driver': 'overlay2',
      'default-ulimits': { nofile: { Name: 'nofile', Hard: 64000, Soft: 64000 } },
      bip: '10.1.74.1/24',
      mtu: 1472,
      'ip-masq': false,
    });
    expect(Object.keys(JSON.parse(merged.text) as object)).toEqual(['log-level', 'storage-driver', 'default-ulimits', 'bip', 'mtu', 'ip-masq']);
  });

  it('replaces old values where they are, with the right JSON types', () => {
    const merged = mergeDaemonJson('{"bip": "172.17.0.1/16", "debug": true, "mtu": 1500}', FLANNEL, PATH);
    expect(merged.changedKeys).toEqual(['bip', 'mtu', 'ip-masq']);
    expect(merged.text).toBe('{\n  "bip": "10.1.74.1/24",\n  "debug": true,\n  "mtu": 1472,\n  "ip-masq": false\n}\n');
  });

  it('keeps the file\'s indentation', () => {
    expect(mergeDaemonJson('{\n\t"debug": true\n}\n', { mtu: 1450 }, PATH).text).toBe('{\n\t"debug": true,\n\t"mtu": 1450\n}\n');
    expect(mergeDaemonJson('{\n    "debug": true\n}\n', { mtu: 1450 }, PATH).text).toBe('{\n    "debug": true,\n    "mtu": 1450\n}\n');
  });

  it('returns the text untouched when the values are already there', () => {
    const text = '{"mtu":1472,  "bip":"10.1.74.1/24", "ip-masq":false, "debug":true}';
    expect(mergeDaemonJson(text, FLANNEL, PATH)).toEqual({ text, changed: false, changedKeys: [] });
  });

  it('creates the document when the file does not exist', () => {
    expect(mergeDaemonJson(undefined, FLANNEL, PATH)).toEqual({
      text: '{\n  "bip": "10.1.74.1/24",\n  "mtu": 1472,\n  "ip-masq": false\n}\n',
      changed: true,
      changedKeys: ['bip', 'mtu', 'ip-masq'],
    });
    expect(mergeDaemonJson('', { mtu: 1450 }, PATH).text).toBe('{\n  "mtu": 1450\n}\n');
  });

  it('leaves ip-masq alone when it is not given (-m)', () => {
    const merged = mergeDaemonJson('{"ip-masq": true}', { bip: '10.1.74.1/24', mtu: 1472 }, PATH);
    expect(JSON.parse(merged.text)).toEqual({ 'ip-masq': true, bip: '10.1.74.1/24', mtu: 1472 });
  });

  it.each([
    ['{"bip": "10.1.74.1/24",}', /\/etc\/docker\/daemon.json is not valid JSON \(.*\): fix it .*; it was left unchanged/],
    ['{"bip": ', /is not valid JSON/],
    ['// comment\n{}', /is not valid JSON/],
    ['["bip"]', /must hold a JSON object \(\{\.\.\.\}\) of dockerd settings, not an array; it was left unchanged/],
    ['"bip"', /must hold a JSON object .* not "bip"/],
    ['null', /must hold a JSON object .* not null/],
  ])('reports a daemon.json that is not a JSON object: %s', (text, message) => {
    expect(() => mergeDaemonJson(text, FLANNEL, PATH)).toThrow(message);
    expect(() => parseDaemonJson(text, PATH)).toThrow(DockerSetupError);
  });
});

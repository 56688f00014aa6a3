import { describe, expect, test } from 'vitest';
import { IpNet } from '../src/ip.js';
import { LOG_LEVELS, createLineLogger, silentLogger, type LineLoggerOptions, type Logger } from '../src/logger.js';

const NOW = new Date('2026-11-25T02:13:34.123Z');

function recording(options: Omit<LineLoggerOptions, 'write' | 'now'> = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLineLogger({ ...options, write: (line) => lines.push(line), now: () => NOW });
  return { log, lines };
}

describe('createLineLogger', () => {
  test('json: one object a line with time, level, component, msg first, numbers as numbers', () => {
    const { log, lines } = recording({ component: 'flanneld', format: 'json' });
    log.child('lease-manager').info('acquired lease', { subnet: IpNet.parse('10.1.30.0/24'), ttl: 86400, ok: true, msg: 'clash', gone: undefined, err: new Error('boom') });
    expect(lines).toEqual([
      '{"time":"2026-11-25T02:13:34.123Z","level":"info","component":"flanneld/lease-manager","msg":"acquired lease","subnet":"10.1.30.0/24","ttl":86400,"ok":true,"field.msg":"clash","err":"boom"}',
    ]);
    expect(Object.keys(JSON.parse(lines[0]!) as object).slice(0, 4)).toEqual(['time', 'level', 'component', 'msg']);
    // A value from etcd cannot break the line or hide text: controls are escaped, and the line still parses back.
    log.warn('bad', { key: 'a\nb\u001b[31m\u202e\u0085' });
    expect(lines[1]).toContain('"key":"a\\nb\\u001b[31m\\u202e\\u0085"');
    expect((JSON.parse(lines[1]!) as { key: string }).key).toBe('a\nb\u001b[31m\u202e\u0085');
  });

  test('writes `time level component msg key=value`', () => {
    const { log, lines } = recording({ component: 'lease-manager' });
    log.info('acquired lease', { subnet: '10.1.30.0/24', publicIP: '192.0.2.1' });
    expect(lines).toEqual(['2026-11-25T02:13:34.123Z info lease-manager acquired lease subnet=10.1.30.0/24 publicIP=192.0.2.1']);
  });

  test('uses - when there is no component, and no trailing space without fields', () => {
    const { log, lines } = recording();
    log.warn('no fields');
    expect(lines).toEqual(['2026-11-25T02:13:34.123Z warn - no fields']);
  });

  test('the default threshold is info', () => {
    const { log, lines } = recording();
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((line) => line.split(' ')[1])).toEqual(['info', 'warn', 'error']);
  });

  test.each([
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ] as const)('level %s writes %j', (level, written) => {
    const { log, lines } = recording({ level });
    for (const l of LOG_LEVELS) log[l](`at ${l}`);
    expect(lines.map((line) => line.split(' ')[1])).toEqual(written);
  });

  test('child loggers nest components with /', () => {
    const { log, lines } = recording();
    log.child('flanneld').info('a');
    log.child('flanneld').child('vxlan').info('b');
    expect(lines).toEqual(['2026-11-25T02:13:34.123Z info flanneld a', '2026-11-25T02:13:34.123Z info flanneld/vxlan b']);
  });

  test('a child of a named logger keeps the parent name and the threshold', () => {
    const { log, lines } = recording({ component: 'flanneld', level: 'warn' });
    const child = log.child('lease-manager');
    child.info('dropped');
    child.warn('kept');
    expect(lines).toEqual(['2026-11-25T02:13:34.123Z warn flanneld/lease-manager kept']);
  });

  test('values with spaces, quotes or = are quoted; empty values too', () => {
    const { log, lines } = recording();
    log.warn('skipped malformed lease', { key: 'bad key', reason: 'say "hi"', eq: 'a=b', empty: '', tab: 'a\tb' });
    expect(lines[0]).toBe(
      '2026-11-25T02:13:34.123Z warn - skipped malformed lease key="bad key" reason="say \\"hi\\"" eq="a=b" empty="" tab="a\\tb"',
    );
  });

  test('formats other value types', () => {
    const { log, lines } = recording();
    log.error('failed', {
      err: new Error('connection refused'),
      attempt: 3,
      retry: false,
      big: 10n,
      none: null,
      skipped: undefined,
      subnet: IpNet.parse('10.1.30.0/24'),
      attrs: { VNI: 1 },
    });
    expect(lines[0]).toBe(
      '2026-11-25T02:13:34.123Z error - failed err="connection refused" attempt=3 retry=false big=10 none=null subnet=10.1.30.0/24 attrs="{\\"VNI\\":1}"',
    );
  });

  test('the clock is read for each line', () => {
    const lines: string[] = [];
    let ms = Date.parse('2026-01-01T00:00:00.000Z');
    const log = createLineLogger({ write: (line) => lines.push(line), now: () => new Date(ms) });
    log.info('one');
    ms += 1500;
    log.info('two');
    expect(lines).toEqual(['2026-01-01T00:00:00.000Z info - one', '2026-01-01T00:00:01.500Z info - two']);
  });
});

describe('silentLogger', () => {
  test('accepts everything and its children are silent too', () => {
    expect(() => {
      silentLogger.error('x', { a: 1 });
      silentLogger.child('y').child('z').debug('w');
    }).not.toThrow();
    expect(silentLogger.child('y')).toBe(silentLogger);
  });
});

describe('untrusted values in log lines', () => {
  test('control characters are escaped, so a value cannot forge a line or drive the terminal', () => {
    const lines: string[] = [];
    const log = createLineLogger({ write: (l) => lines.push(l), now: () => new Date(0) });
    log.warn('peer lease rejected', { backendType: 'vxlan\n1970-01-01T00:00:00.000Z info - forged', mac: 'a\u001b[31mred\u0007\u0000', bidi: 'abc\u202edef', del: 'x\u007fy' });
    expect(lines).toHaveLength(1);
    const [line] = lines as [string];
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(line).toContain('backendType="vxlan\\n1970-01-01T00:00:00.000Z info - forged"');
    expect(line).toContain('mac="a\\u001b[31mred\\u0007\\u0000"');
    expect(line).toContain('bidi="abc\\u202edef"');
    expect(line).toContain('del="x\\u007fy"');
  });
});

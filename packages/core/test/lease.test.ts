import { describe, expect, test } from 'vitest';
import { NO_PUBLIC_IP, decodeLeaseAttrs, encodeLeaseAttrs, sameLeaseAttrs, type LeaseAttrs } from '../src/lease.js';

/** The four exact examples of flannel-compat.md §1.4, with the attrs that produce them. */
const examples: Array<[string, LeaseAttrs, string]> = [
  ['udp (bare)', { publicIP: '1.2.3.4' }, '{"PublicIP":"1.2.3.4","PublicIPv6":null}'],
  [
    'vxlan IPv4',
    { publicIP: '192.168.64.3', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } },
    '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
  ],
  [
    'vxlan dual stack',
    {
      publicIP: '192.168.64.3',
      publicIPv6: '2001:db8::5',
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' },
      backendV6Data: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:45' },
    },
    '{"PublicIP":"192.168.64.3","PublicIPv6":"2001:db8::5","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:45"}}',
  ],
  ['host-gw', { publicIP: '192.168.64.3', backendType: 'host-gw' }, '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"host-gw"}'],
];

describe('encodeLeaseAttrs', () => {
  test.each(examples)('%s is byte-for-byte flannel', (_name, attrs, text) => {
    expect(encodeLeaseAttrs(attrs)).toBe(text);
  });

  test('empty BackendType is omitted', () => {
    expect(encodeLeaseAttrs({ publicIP: '1.2.3.4', backendType: '' })).toBe('{"PublicIP":"1.2.3.4","PublicIPv6":null}');
  });

  test('BackendData may be a JSON string (extension backend)', () => {
    expect(encodeLeaseAttrs({ publicIP: '1.2.3.4', backendType: 'extension', backendData: 'abc' })).toBe(
      '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendType":"extension","BackendData":"abc"}',
    );
  });

  test("escapes '<', '>' and '&' like Go's json.Marshal", () => {
    expect(encodeLeaseAttrs({ publicIP: '1.2.3.4', backendType: 'extension', backendData: '<a href="x">&</a>' })).toBe(
      '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendType":"extension","BackendData":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e"}',
    );
    expect(encodeLeaseAttrs({ publicIP: '1.2.3.4', backendData: { Cmd: 'a && b > c' } })).toBe(
      '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendData":{"Cmd":"a \\u0026\\u0026 b \\u003e c"}}',
    );
  });

  test('escapes U+2028 and U+2029 like Go', () => {
    expect(encodeLeaseAttrs({ publicIP: '1.2.3.4', backendData: 'a\u2028b\u2029c' })).toBe(
      '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendData":"a\\u2028b\\u2029c"}',
    );
  });
});

describe('decodeLeaseAttrs', () => {
  test.each(examples)('%s decodes to its attrs', (_name, attrs, text) => {
    expect(decodeLeaseAttrs(text)).toEqual({ ok: true, value: attrs });
  });

  test.each(examples)('%s round-trips byte-identically', (_name, _attrs, text) => {
    const result = decodeLeaseAttrs(text);
    if (!result.ok) throw new Error(result.reason);
    expect(encodeLeaseAttrs(result.value)).toBe(text);
  });

  test('an HTML-escaped value round-trips byte-identically', () => {
    const text = '{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendType":"extension","BackendData":"\\u003cx\\u003e \\u0026"}';
    const result = decodeLeaseAttrs(text);
    if (!result.ok) throw new Error(result.reason);
    expect(result.value.backendData).toBe('<x> &');
    expect(encodeLeaseAttrs(result.value)).toBe(text);
  });

  test('keys are matched case-insensitively', () => {
    expect(decodeLeaseAttrs('{"publicip":"1.2.3.4"}')).toEqual({ ok: true, value: { publicIP: '1.2.3.4' } });
    expect(decodeLeaseAttrs('{"PUBLICIP":"1.2.3.4","publicipv6":"2001:DB8::5","backendtype":"vxlan","backenddata":{"VNI":1}}')).toEqual({
      ok: true,
      value: { publicIP: '1.2.3.4', publicIPv6: '2001:db8::5', backendType: 'vxlan', backendData: { VNI: 1 } },
    });
  });

  test('the last of two matching keys wins, as in Go', () => {
    expect(decodeLeaseAttrs('{"PublicIP":"1.1.1.1","publicip":"2.2.2.2"}')).toEqual({ ok: true, value: { publicIP: '2.2.2.2' } });
  });

  test.each([
    ['null', '{"PublicIP":null}'],
    ['empty', '{"PublicIP":""}'],
    ['IPv6', '{"PublicIP":"2001:db8::5"}'],
    ['a number', '{"PublicIP":5}'],
    ['leading zeros', '{"PublicIP":"01.2.3.4"}'],
    ['an object', '{"PublicIP":{}}'],
  ])('PublicIP that is %s is rejected', (_what, text) => {
    const result = decodeLeaseAttrs(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain('is not an IPv4 address');
  });

  test('absent PublicIP is 0.0.0.0', () => {
    expect(decodeLeaseAttrs('{"BackendType":"host-gw"}')).toEqual({ ok: true, value: { publicIP: '0.0.0.0', backendType: 'host-gw' } });
    expect(NO_PUBLIC_IP).toBe('0.0.0.0');
  });

  test('IPv4-mapped PublicIP is read as IPv4', () => {
    expect(decodeLeaseAttrs('{"PublicIP":"::ffff:1.2.3.4"}')).toEqual({ ok: true, value: { publicIP: '1.2.3.4' } });
  });

  test('unknown keys are ignored', () => {
    expect(decodeLeaseAttrs('{"PublicIP":"1.2.3.4","Extra":[1,2],"Nested":{"a":1}}')).toEqual({ ok: true, value: { publicIP: '1.2.3.4' } });
  });

  test('PublicIPv6 null or absent means no IPv6; a bad one is rejected', () => {
    expect(decodeLeaseAttrs('{"PublicIP":"1.2.3.4","PublicIPv6":null}')).toEqual({ ok: true, value: { publicIP: '1.2.3.4' } });
    const bad = decodeLeaseAttrs('{"PublicIP":"1.2.3.4","PublicIPv6":"nope"}');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.reason).toContain('PublicIPv6 "nope"');
  });

  test('a BackendType that is not a string is rejected', () => {
    expect(decodeLeaseAttrs('{"PublicIP":"1.2.3.4","BackendType":1}').ok).toBe(false);
  });

  test.each([['not json', '{"PublicIP":'], ['an array', '["1.2.3.4"]'], ['a string', '"1.2.3.4"'], ['null', 'null']])(
    '%s is rejected without throwing',
    (_what, text) => {
      const result = decodeLeaseAttrs(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/^lease value is not/);
    },
  );
});

describe('sameLeaseAttrs', () => {
  test('compares what would be written', () => {
    const a: LeaseAttrs = { publicIP: '10.0.0.1', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } };
    expect(sameLeaseAttrs(a, { ...a, backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } })).toBe(true);
    expect(sameLeaseAttrs(a, { ...a, backendData: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:00' } })).toBe(false);
    expect(sameLeaseAttrs(a, { ...a, publicIP: '10.0.0.2' })).toBe(false);
    expect(sameLeaseAttrs({ publicIP: '10.0.0.1' }, { publicIP: '10.0.0.1', backendType: '' })).toBe(true);
  });
});

/**
 * findExternalInterface against a real namespace, reading links, addresses and the default route through
 * HostNetwork (host-net): the default-route interface and its permanent address, --iface by name, --iface-regex.
 */
import { describe, expect, it } from 'vitest';
import { createHostNetwork } from '@flannel-ts/host-net';
import { createNetns } from '@flannel-ts/testkit';
import { findExternalInterface, type InterfaceSelection } from '../src/external-interface.js';

const none: InterfaceSelection = { iface: [], ifaceRegex: [], ifaceCanReach: '', publicIp: '', publicIpv6: '', needIPv4: true, needIPv6: false };

describe('findExternalInterface in a namespace', () => {
  it('reads the host through HostNetwork and picks as flannel does', async () => {
    await using ns = await createNetns();
    const ip = (...args: string[]) => ns.exec('ip', args);
    for (const [name, address] of [['ext0', '10.201.1.2/24'], ['ext1', '10.202.1.2/24']] as const) {
      await ip('link', 'add', 'name', name, 'mtu', name === 'ext0' ? '1500' : '9000', 'type', 'veth', 'peer', 'name', `${name}-peer`);
      // A dynamic (DHCP-like) address listed first: flannel prefers the permanent one.
      if (name === 'ext1') await ip('addr', 'add', '10.202.1.9/24', 'dev', name, 'valid_lft', '3600', 'preferred_lft', '3600');
      await ip('addr', 'add', address, 'dev', name);
      await ip('link', 'set', name, 'up');
      await ip('link', 'set', `${name}-peer`, 'up');
    }
    await ip('route', 'add', 'default', 'via', '10.202.1.1');
    const host = createHostNetwork({ netns: ns.name });

    expect(await findExternalInterface(none, host)).toMatchObject({ name: 'ext1', mtu: 9000, ipv4: '10.202.1.2', publicIP: '10.202.1.2' });
    expect(await findExternalInterface({ ...none, iface: ['ext0'] }, host)).toMatchObject({ name: 'ext0', mtu: 1500, ipv4: '10.201.1.2', cidrs: ['10.201.1.2/24'] });
    expect(await findExternalInterface({ ...none, ifaceRegex: ['^10\\.201\\.'] }, host)).toMatchObject({ name: 'ext0' });
    await ip('route', 'del', 'default');
    await expect(findExternalInterface(none, host)).rejects.toThrow(/no default IPv4 route/);
  });
});

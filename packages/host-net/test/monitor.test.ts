/** `ip -o monitor label` and `bridge -o monitor fdb` lines (as iproute2 6.1 prints them) turned into KernelEvents. */
import { describe, expect, it } from 'vitest';
import { parseFdbMonitorLine, parseIpMonitorLine } from '../src/monitor.js';

describe('parseIpMonitorLine', () => {
  it('reads links, veth peers included, and their deletion', () => {
    expect(parseIpMonitorLine('[LINK]4: flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default \\    link/ether ce:7e:a8:3f:8c:73 brd ff:ff:ff:ff:ff:ff')).toEqual({ object: 'link', deleted: false, dev: 'flannel.1' });
    expect(parseIpMonitorLine('[LINK]3: eth9@eth9p: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default \\    link/ether 3a:ec:7a:2a:f3:18 brd ff:ff:ff:ff:ff:ff')).toEqual({ object: 'link', deleted: false, dev: 'eth9' });
    expect(parseIpMonitorLine('[LINK]Deleted 4: flannel.1: <BROADCAST,MULTICAST> mtu 1450 qdisc noop state DOWN group default \\    link/ether ce:7e:a8:3f:8c:73 brd ff:ff:ff:ff:ff:ff')).toEqual({ object: 'link', deleted: true, dev: 'flannel.1' });
  });

  it('reads addresses and neighbours by their device', () => {
    expect(parseIpMonitorLine('[ADDR]4: flannel.1    inet 10.1.0.0/32 scope global flannel.1\\       valid_lft forever preferred_lft forever')).toEqual({ object: 'address', deleted: false, dev: 'flannel.1' });
    expect(parseIpMonitorLine('[ADDR]Deleted 4: flannel.1    inet6 fe80::cc7e:a8ff:fe3f:8c73/64 scope link tentative \\       valid_lft forever preferred_lft forever')).toEqual({ object: 'address', deleted: true, dev: 'flannel.1' });
    expect(parseIpMonitorLine('[NEIGH]10.1.31.0 dev flannel.1 lladdr 0a:58:0a:01:1f:00 PERMANENT ')).toEqual({ object: 'neighbour', deleted: false, dev: 'flannel.1' });
    expect(parseIpMonitorLine('[NEIGH]Deleted ff02::16 dev flannel.1 lladdr 33:33:00:00:00:16 NOARP ')).toEqual({ object: 'neighbour', deleted: true, dev: 'flannel.1' });
  });

  it('reads routes with destination, gateway and type', () => {
    expect(parseIpMonitorLine('[ROUTE]10.1.31.0/24 via 10.1.31.0 dev flannel.1 onlink ')).toEqual({ object: 'route', deleted: false, dev: 'flannel.1', dst: '10.1.31.0/24', gateway: '10.1.31.0', type: undefined });
    expect(parseIpMonitorLine('[ROUTE]Deleted 10.1.40.0/24 via 192.0.2.7 dev eth9 ')).toMatchObject({ deleted: true, dev: 'eth9', dst: '10.1.40.0/24', gateway: '192.0.2.7' });
    expect(parseIpMonitorLine('[ROUTE]local 192.0.2.1 dev eth9 table local proto kernel scope host src 192.0.2.1 ')).toEqual({ object: 'route', deleted: false, dev: 'eth9', dst: '192.0.2.1', gateway: undefined, type: 'local' });
    expect(parseIpMonitorLine('[ROUTE]blackhole 10.1.30.0/24 proto boot ')).toEqual({ object: 'route', deleted: false, dev: undefined, dst: '10.1.30.0/24', gateway: undefined, type: 'blackhole' });
    expect(parseIpMonitorLine('[ROUTE]10.1.50.0/24 via inet6 fe80::1 dev eth0 ')).toMatchObject({ dst: '10.1.50.0/24', gateway: 'fe80::1', dev: 'eth0' });
  });

  it('skips lines that are not labelled changes', () => {
    expect(parseIpMonitorLine('')).toBeUndefined();
    expect(parseIpMonitorLine('[nsid current]')).toBeUndefined();
  });
});

describe('parseFdbMonitorLine', () => {
  it('reads FDB entries and their deletion', () => {
    expect(parseFdbMonitorLine('0a:58:0a:01:1f:00 dev flannel.1 dst 192.0.2.12 self permanent')).toEqual({ object: 'fdb', deleted: false, dev: 'flannel.1' });
    expect(parseFdbMonitorLine('Deleted 0a:58:0a:01:1f:00 dev flannel.1 dst 192.0.2.12 self permanent')).toEqual({ object: 'fdb', deleted: true, dev: 'flannel.1' });
    expect(parseFdbMonitorLine('something else')).toBeUndefined();
  });
});

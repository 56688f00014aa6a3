import { parseNetworkConfig, parseSubnetKey, planAllocation, formatSubnetKey, encodeLeaseAttrs, decodeLeaseAttrs } from '@flannel-ts/core';

const config = parseNetworkConfig('{"Network":"10.1.0.0/16","Backend":{"Type":"vxlan"}}'); // throws ConfigError
console.log(config.ipv4?.subnetLen, config.ipv4?.subnetMin.toString(), config.ipv4?.subnetMax.toString(), config.backendType);

const key = parseSubnetKey('10.1.1.0-24');                    // never throws: { ok, value } or { ok: false, reason }
if (!key.ok) throw new Error(key.reason);
const peer = { key: '10.1.1.0-24', ...key.value, attrs: { publicIP: '192.0.2.2' }, expiresAt: null };
const plan = planAllocation({ config, leases: [peer], publicIP: '192.0.2.10', random: () => 0 });
if (plan.kind === 'create') console.log(formatSubnetKey(plan.subnets), plan.source);

console.log(encodeLeaseAttrs({ publicIP: '192.0.2.10', backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } }));
console.log(decodeLeaseAttrs('{"publicip":"192.0.2.10","PublicIPv6":null}'), decodeLeaseAttrs('{"PublicIP":"fc00::1"}'));

/**
 * Ethernet (VTEP) MAC addresses as flannel writes them in a lease's BackendData: Go's `net.HardwareAddr.String()`,
 * lower-case and colon-separated.
 */

/**
 * Parses a MAC the way Go's net.ParseMAC does for 6-byte addresses (colon, hyphen or dotted notation) and returns
 * it lower-case colon-separated; undefined when it is not one.
 */
export function normalizeMac(text: string): string | undefined {
  let hex: string | undefined;
  if (/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(text) && !(text.includes(':') && text.includes('-'))) hex = text.replace(/[:-]/g, '');
  else if (/^([0-9a-fA-F]{4}\.){2}[0-9a-fA-F]{4}$/.test(text)) hex = text.replace(/\./g, '');
  if (!hex) return undefined;
  return hex.toLowerCase().match(/../g)!.join(':');
}

/**
 * Why a (normalized) MAC cannot be a VTEP's address, or undefined when it can: the all-zero address and group
 * (multicast, broadcast) addresses would make the kernel flood or drop what it sends to that peer.
 */
export function macProblem(mac: string): string | undefined {
  if (mac === '00:00:00:00:00:00') return 'is all zeros';
  if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) return mac === 'ff:ff:ff:ff:ff:ff' ? 'is the broadcast address' : 'is a multicast address';
  return undefined;
}

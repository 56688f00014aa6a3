/**
 * flannel's etcd defaults and the one check of an etcd endpoint URL, shared by flanneld, flannelctl and the
 * lease manager, so a bad endpoint is refused once, up front, with one message, instead of being retried forever.
 */
export const DEFAULT_ETCD_ENDPOINTS = ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'] as const;
export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

const FORMS = 'write it as http://HOST:PORT, https://HOST:PORT or unix:///PATH/TO/SOCKET';
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)$/;

/** What is wrong with an endpoint, or undefined when it is one etcd3 can dial. */
export function endpointProblem(endpoint: string): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(endpoint);
  if (!scheme) return `etcd endpoint "${endpoint}" has no scheme: ${FORMS}`;
  const name = scheme[1]!.toLowerCase();
  const rest = endpoint.slice(scheme[0].length);
  if (name === 'unix' || name === 'unixs') return rest === '' ? `etcd endpoint "${endpoint}" names no socket: ${FORMS}` : undefined;
  if (name !== 'http' && name !== 'https') return `etcd endpoint "${endpoint}" has scheme "${name}", which etcd does not speak: ${FORMS}`;
  const authority = rest.replace(/\/$/, '');
  if (authority.includes('/') || authority.includes('?') || authority.includes('#')) return `etcd endpoint "${endpoint}" has a path; etcd endpoints take none: ${FORMS}`;
  if (authority.includes('@')) return `etcd endpoint "${endpoint}" has credentials in it: use --etcd-username and --etcd-password instead`;
  const port = /:([^:\]]*)$/.exec(authority);
  const host = port ? authority.slice(0, port.index) : authority;
  if (host === '' || !HOST.test(host)) return `etcd endpoint "${endpoint}" has no valid host: ${FORMS}`;
  if (port) {
    const text = port[1]!;
    if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) return `etcd endpoint "${endpoint}" has port "${text}", which is not a port number from 1 to 65535: ${FORMS}`;
  }
  return undefined;
}

/** Help and about text. */
import packageJson from '../package.json' with { type: 'json' };
import { DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE, DEFAULT_SUBNET_FILE_WAIT_SECONDS, SUPPORTED_VERSIONS } from './net-conf.js';

export const PROGRAM = 'flannel';
export const VERSION: string = packageJson.version;
/** Where runtimes look for plugins by default. */
export const DEFAULT_INSTALL_DIR = '/opt/cni/bin';

/** What libcni's skel prints when the plugin is run without CNI_COMMAND. */
export function aboutText(): string {
  return `CNI Plugin ${PROGRAM} version ${VERSION} (flannel-ts)
CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}
This is a CNI plugin: container runtimes run it with CNI_COMMAND set. See: ${PROGRAM} --help
`;
}

export function helpText(): string {
  return `${PROGRAM} ${VERSION}: the flannel CNI plugin. Puts containers on this host's flannel subnet for CNI runtimes
(podman, containerd/nerdctl, CRI-O, the kubelet), as flannel's own plugin does: it reads subnet.env (written by
flanneld) and delegates to the "bridge" plugin with "host-local" IPAM.

Usage:
  ${PROGRAM} install [--dir DIR] [--node PATH]   copy the plugin to DIR/flannel (default ${DEFAULT_INSTALL_DIR})
  ${PROGRAM} --help | --version
  CNI_COMMAND=ADD|DEL|CHECK|VERSION ... ${PROGRAM} < config.json   (what runtimes do)

Install options:
  --dir DIR     directory the runtime takes plugins from (default ${DEFAULT_INSTALL_DIR})
  --node PATH   Node.js for the copy's #! line (default: the node running this command)
  The bridge and host-local plugins must be there too (Debian: apt-get install containernetworking-plugins,
  which puts them in /usr/lib/cni; list both directories in the runtime's plugin path).

Network config (a conflist entry), flannel's fields:
  {"cniVersion": "1.0.0", "name": "mynet", "type": "flannel"}
  name                    network name, required; passed to the delegate
  subnetFile              subnet.env to read (default ${DEFAULT_SUBNET_FILE})
  dataDir                 where each container's delegate config is kept from ADD to DEL
                          (default ${DEFAULT_DATA_DIR})
  delegate                base of the delegate's config; type defaults to "bridge", mtu to FLANNEL_MTU,
                          ipMasq to the opposite of FLANNEL_IPMASQ, isGateway (bridge) to true;
                          it must not set "name" or "ipam"
  ipam                    base of the delegate's IPAM; type defaults to "host-local"; ranges are set to
                          FLANNEL_SUBNET (and FLANNEL_IPV6_SUBNET); a route to each flannel network (via
                          the subnet's gateway) is added after the given routes
  runtimeConfig           passed on to the delegate (port mappings and the like)
  subnetFileWaitSeconds   how long ADD waits for subnet.env while flanneld starts (default
                          ${DEFAULT_SUBNET_FILE_WAIT_SECONDS}; 0: fail at once). Ours; flannel's plugin does not wait.

CNI versions: ${SUPPORTED_VERSIONS.join(', ')} (CHECK from 0.4.0).

Exit status: 0 done; 1 the CNI operation failed (a CNI error JSON is on stdout, with the spec's code: 1 version,
3 unknown container, 4 environment, 5 I/O, 6 undecodable config or subnet.env, 7 invalid config, 11 subnet.env
not there yet, else the delegate's code) or install failed; 2 usage error.
`;
}

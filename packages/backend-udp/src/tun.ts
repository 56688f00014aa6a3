/**
 * A TUN device: `/dev/net/tun` opened non-blocking and named with the TUNSETIFF ioctl (IFF_TUN | IFF_NO_PI), called
 * through koffi. The data-path workers read and write the fd directly, one packet per read(2)/write(2).
 */
import { closeSync, constants, openSync } from 'node:fs';
import { FlannelError } from '@flannel-ts/core';
import { loadLibc } from './libc.js';

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;

export interface TunDevice {
  readonly fd: number;
  readonly name: string;
  close(): void;
}

/** Opens a TUN device. `name` may hold `%d` for the kernel to pick the first free index (flannel asks `flannel%d`). */
export function openTun(name = 'flannel%d'): TunDevice {
  if (Buffer.byteLength(name) >= IFNAMSIZ) throw new FlannelError('USAGE', `TUN name "${name}" is longer than ${IFNAMSIZ - 1} bytes`);
  let fd: number;
  try {
    fd = openSync('/dev/net/tun', constants.O_RDWR | constants.O_NONBLOCK);
  } catch (err) {
    throw new FlannelError('HOST_COMMAND_FAILED', `cannot open /dev/net/tun (${(err as Error).message}): flanneld needs root (CAP_NET_ADMIN) and the tun module`, { cause: err });
  }
  const ifr = Buffer.alloc(40);
  ifr.write(name, 0, 'latin1');
  ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, IFNAMSIZ);
  const libc = loadLibc();
  if (libc.ioctl(fd, TUNSETIFF, ifr) !== 0) {
    const errno = libc.errno();
    closeSync(fd);
    throw new FlannelError('HOST_COMMAND_FAILED', `TUNSETIFF ${name} failed (errno ${errno}): is CAP_NET_ADMIN missing, or the name taken?`);
  }
  let closed = false;
  return {
    fd,
    name: ifr.toString('latin1', 0, IFNAMSIZ).replace(/\0[\s\S]*$/, ''),
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

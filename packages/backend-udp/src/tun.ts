/**
 * A TUN device from Node: `/dev/net/tun` opened non-blocking, named with the TUNSETIFF ioctl (called through koffi,
 * a prebuilt FFI), read through a libuv pipe handle (event-driven, one 'data' chunk per packet, closes cleanly)
 * and written with one write(2) per packet (a socket write could coalesce two packets into one).
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import koffi from 'koffi';
import { FlannelError } from '@flannel-ts/core';

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFNAMSIZ = 16;

let ioctl: ((fd: number, request: number, arg: Buffer) => number) | undefined;

function loadIoctl() {
  if (!ioctl) {
    const libc = koffi.load('libc.so.6');
    ioctl = libc.func('int ioctl(int fd, unsigned long request, void *arg)') as (fd: number, request: number, arg: Buffer) => number;
  }
  return ioctl;
}

export interface TunDevice {
  readonly fd: number;
  readonly name: string;
  /** Starts delivering packets; each call of `onPacket` gets one whole IP packet. */
  read(onPacket: (packet: Buffer) => void): void;
  /** Writes one packet; returns false when the kernel refused it (queue full). */
  write(packet: Buffer): boolean;
  close(): void;
}

/** Opens a TUN device (IFF_TUN | IFF_NO_PI). `name` may hold `%d` for the kernel to pick the first free index. */
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
  if (loadIoctl()(fd, TUNSETIFF, ifr) !== 0) {
    const errno = koffi.errno();
    closeSync(fd);
    throw new FlannelError('HOST_COMMAND_FAILED', `TUNSETIFF ${name} failed (errno ${errno}): is another process holding the device, or is CAP_NET_ADMIN missing?`);
  }
  const actualName = ifr.toString('latin1', 0, IFNAMSIZ).replace(/\0[\s\S]*$/, '');
  let socket: Socket | undefined;
  let closed = false;
  return {
    fd,
    name: actualName,
    read(onPacket) {
      // process.binding('pipe_wrap') is the one way to give libuv a TUN fd for event-driven reads.
      const { Pipe, constants: pipeConstants } = (process as unknown as { binding(name: string): { Pipe: new (type: number) => { open(fd: number): void }; constants: { SOCKET: number } } }).binding('pipe_wrap');
      const handle = new Pipe(pipeConstants.SOCKET);
      handle.open(fd);
      socket = new Socket({ handle, readable: true, writable: false } as unknown as ConstructorParameters<typeof Socket>[0]);
      socket.on('data', onPacket);
      socket.on('error', () => undefined);
    },
    write(packet) {
      try {
        writeSync(fd, packet);
        return true;
      } catch {
        return false;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      // Closing the pipe handle closes the fd; without a reader the fd is closed directly.
      if (socket) socket.destroy();
      else closeSync(fd);
    },
  };
}

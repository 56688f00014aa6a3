/**
 * The few libc calls the data path makes, bound through koffi (a prebuilt FFI: no compiler needed). Each call
 * costs about 0.2 µs on top of the syscall, against several µs for Node's stream and dgram layers per packet.
 */
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi');

/**
 * koffi is a native addon: loaded on first use, not at import, so code that only parses the backend's config
 * (flannelctl config validate) never needs it, and bundles keep it an ordinary runtime dependency.
 */
let koffiModule: Koffi | undefined;
const koffi = (): Koffi => (koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi);

export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const POLLIN = 1;
export const MSG_DONTWAIT = 0x40;
export const EAGAIN = 11;
export const EINTR = 4;

export interface Libc {
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  read(fd: number, buffer: Buffer, length: number): number;
  write(fd: number, buffer: Buffer, length: number): number;
  sendto(fd: number, buffer: Buffer, length: number, flags: number, address: Buffer, addressLength: number): number;
  recvfrom(fd: number, buffer: Buffer, length: number, flags: number, address: Buffer, addressLength: Buffer): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Buffer, addressLength: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, valueLength: number): number;
  ioctl(fd: number, request: number, arg: Buffer): number;
  close(fd: number): number;
  errno(): number;
}

let cached: Libc | undefined;

/** Binds libc once per thread (koffi functions are per-thread objects). */
export function loadLibc(): Libc {
  if (cached) return cached;
  const lib = koffi().load('libc.so.6');
  const fn = (signature: string) => lib.func(signature) as (...args: unknown[]) => number;
  const poll = fn('int poll(void *fds, unsigned long nfds, int timeout)');
  const read = fn('long read(int fd, void *buf, unsigned long count)');
  const write = fn('long write(int fd, void *buf, unsigned long count)');
  const sendto = fn('long sendto(int fd, void *buf, unsigned long len, int flags, void *addr, unsigned int addrlen)');
  const recvfrom = fn('long recvfrom(int fd, void *buf, unsigned long len, int flags, void *addr, void *addrlen)');
  const socket = fn('int socket(int domain, int type, int protocol)');
  const bind = fn('int bind(int fd, void *addr, unsigned int addrlen)');
  const setsockopt = fn('int setsockopt(int fd, int level, int name, void *value, unsigned int len)');
  const ioctl = fn('int ioctl(int fd, unsigned long request, void *arg)');
  const close = fn('int close(int fd)');
  cached = {
    poll: (fds, nfds, timeoutMs) => poll(fds, nfds, timeoutMs),
    read: (fd, buffer, length) => read(fd, buffer, length),
    write: (fd, buffer, length) => write(fd, buffer, length),
    sendto: (fd, buffer, length, flags, address, addressLength) => sendto(fd, buffer, length, flags, address, addressLength),
    recvfrom: (fd, buffer, length, flags, address, addressLength) => recvfrom(fd, buffer, length, flags, address, addressLength),
    socket: (domain, type, protocol) => socket(domain, type, protocol),
    bind: (fd, address, addressLength) => bind(fd, address, addressLength),
    setsockopt: (fd, level, name, value, valueLength) => setsockopt(fd, level, name, value, valueLength),
    ioctl: (fd, request, arg) => ioctl(fd, request, arg),
    close: (fd) => close(fd),
    errno: () => koffi().errno(),
  };
  return cached;
}

/** struct sockaddr_in for an IPv4 address (host-order number) and port. */
export function sockaddrIn(address: number, port: number): Buffer {
  const sockaddr = Buffer.alloc(16);
  sockaddr.writeUInt16LE(AF_INET, 0);
  sockaddr.writeUInt16BE(port, 2);
  sockaddr.writeUInt32BE(address >>> 0, 4);
  return sockaddr;
}

export function ipv4ToNumber(address: string): number {
  const parts = address.split('.');
  return ((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0;
}

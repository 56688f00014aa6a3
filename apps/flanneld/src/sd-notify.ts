/**
 * systemd's readiness protocol: when NOTIFY_SOCKET is set (Type=notify units), send "READY=1" as one datagram to
 * that unix socket. Node has no unix datagram sockets, so the three calls go through koffi.
 */
import { createRequire } from 'node:module';

// koffi (an FFI addon) is loaded only when systemd asks for a notification.
const loadKoffi = (): typeof import('koffi') => createRequire(import.meta.url)('koffi') as typeof import('koffi');

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;

export function notifySystemd(message: string, socketPath: string | undefined): boolean {
  if (!socketPath) return false;
  const path = Buffer.from(socketPath.startsWith('@') ? `\0${socketPath.slice(1)}` : socketPath);
  if (path.length > 107) return false;
  const libc = loadKoffi().load('libc.so.6');
  const socket = libc.func('int socket(int, int, int)') as (d: number, t: number, p: number) => number;
  const sendto = libc.func('long sendto(int, void *, unsigned long, int, void *, unsigned int)') as (fd: number, b: Buffer, l: number, f: number, a: Buffer, al: number) => number;
  const close = libc.func('int close(int)') as (fd: number) => number;
  const fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const address = Buffer.alloc(110);
    address.writeUInt16LE(AF_UNIX, 0);
    path.copy(address, 2);
    const payload = Buffer.from(message);
    return sendto(fd, payload, payload.length, 0, address, 2 + path.length + (socketPath.startsWith('@') ? 0 : 1)) === payload.length;
  } finally {
    close(fd);
  }
}

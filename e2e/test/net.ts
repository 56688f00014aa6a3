import { spawn } from 'node:child_process';
import type { LabContainer } from '@flannel-ts/lab';

export interface PingResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Pings from a container; never throws, so tests can assert on failures too. */
export function ping(from: LabContainer, to: string, args: readonly string[] = ['-c', '2', '-i', '0.2', '-W', '2']): Promise<PingResult> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', from.name, 'ping', ...args, to]);
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', (code) => resolve({ ok: code === 0, output }));
  });
}

/**
 * Sends `bytes` random bytes over TCP from one container to another (node on both ends) and returns both sides'
 * SHA-256, so a test can check the stream arrived intact.
 */
export async function tcpTransfer(from: LabContainer, to: LabContainer, bytes: number, port = 5201): Promise<{ sent: string; received: string; receivedBytes: number }> {
  const server = spawn('ip', [
    'netns', 'exec', to.name, process.execPath, '-e',
    `const h=require('crypto').createHash('sha256');let n=0;const s=require('net').createServer(c=>{c.on('data',d=>{h.update(d);n+=d.length});c.on('end',()=>{console.log(JSON.stringify({hash:h.digest('hex'),n}));s.close()})}).listen(${port},'${to.ip}',()=>console.log('listening'))`,
  ]);
  // Exit promises are taken at once: either side may finish before the other is awaited.
  const serverClosed = new Promise((resolve) => server.on('close', resolve));
  let serverOut = '';
  server.stdout.on('data', (c: Buffer) => (serverOut += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 10_000);
    server.stdout.on('data', () => serverOut.includes('listening') && (clearTimeout(timer), resolve()));
  });
  const client = spawn('ip', [
    'netns', 'exec', from.name, process.execPath, '-e',
    `const b=require('crypto').randomBytes(${bytes});const c=require('net').connect(${port},'${to.ip}',()=>{c.end(b)});c.on('close',()=>console.log(require('crypto').createHash('sha256').update(b).digest('hex')))`,
  ]);
  const clientClosed = new Promise((resolve) => client.on('close', resolve));
  let clientOut = '';
  client.stdout.on('data', (c: Buffer) => (clientOut += c.toString()));
  await Promise.all([clientClosed, serverClosed]);
  const result = JSON.parse(serverOut.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { hash?: string; n?: number };
  return { sent: clientOut.trim(), received: result.hash ?? '', receivedBytes: result.n ?? 0 };
}

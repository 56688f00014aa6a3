import { spawn } from 'node:child_process';
import { startLab, type Lab, type LabContainer } from '@flannel-ts/lab';

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

/** An IPv4/UDP packet (header checksum set, UDP checksum 0 = none) to put inside a flannel udp datagram. */
export function innerUdpPacket(source: string, destination: string, port: number, payload: string): Buffer {
  const data = Buffer.from(payload);
  const packet = Buffer.alloc(28 + data.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = 17;
  source.split('.').forEach((octet, i) => (packet[12 + i] = Number(octet)));
  destination.split('.').forEach((octet, i) => (packet[16 + i] = Number(octet)));
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += packet.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  packet.writeUInt16BE(~sum & 0xffff, 10);
  packet.writeUInt16BE(40000, 20);
  packet.writeUInt16BE(port, 22);
  packet.writeUInt16BE(8 + data.length, 24);
  data.copy(packet, 28);
  return packet;
}

/** Sends one UDP datagram from `bindAddress` inside a namespace to `to`:8285 (flannel's udp port). */
export async function sendDatagram(namespace: string, bindAddress: string, to: string, payload: Buffer): Promise<void> {
  const script = `const s=require('dgram').createSocket('udp4');s.bind(0,'${bindAddress}',()=>s.send(Buffer.from('${payload.toString('hex')}','hex'),8285,'${to}',()=>s.close()))`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', script], { stdio: 'inherit' });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited ${code}`))));
  });
}

/** A UDP listener inside a container; returns a function giving everything received so far, and stop(). */
export async function listenUdp(container: LabContainer, port: number): Promise<(() => string) & { stop(): void }> {
  const child = spawn('ip', ['netns', 'exec', container.name, process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.on('message',m=>process.stdout.write(m.toString()+'\\n'));s.bind(${port},'${container.ip}',()=>process.stdout.write('ready\\n'))`]);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve) => child.stdout.on('data', () => output.includes('ready') && resolve()));
  return Object.assign(() => output, { stop: () => void child.kill() });
}


/**
 * The usual scenario: a lab of `hosts` hosts on `backend` (network 10.1.0.0/16), flanneld on each, one container per
 * host, and every flanneld has seen every peer.
 */
export async function startNetwork(hosts: number, backend: string): Promise<{ lab: Lab; containers: LabContainer[] }> {
  const lab = await startLab({ hosts });
  try {
    await lab.flannelctl(['config', 'set', '10.1.0.0/16', '--backend', backend]);
    for (const host of lab.hosts) await lab.startFlanneld(host);
    const containers: LabContainer[] = [];
    for (const host of lab.hosts) containers.push(await lab.addContainer(host));
    const peers = new RegExp(`(peer added[\\s\\S]*){${hosts - 1}}`);
    for (const host of lab.hosts) await host.flanneld!.waitForOutput(peers);
    return { lab, containers };
  } catch (err) {
    await lab[Symbol.asyncDispose]();
    throw err;
  }
}

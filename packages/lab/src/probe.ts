/**
 * Traffic probes for churn tests and benchmarks: a ping running in the background for as long as something lasts,
 * and whether the udp forwarder holds a route for a churn subnet (it keeps its table in user space, so the kernel
 * cannot be read for it).
 */
import { spawn } from 'node:child_process';
import { churnSubnet } from './churn.js';
import type { LabContainer } from './lab.js';

/** Pings every 50 ms until stopped; stop() resolves with what ping reported. */
export function pingDuring(from: LabContainer, to: string): { stop(): Promise<{ sent: number; lossPercent: number }> } {
  const child = spawn('ip', ['netns', 'exec', from.name, 'ping', '-i', '0.05', '-W', '1', to]);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await closed;
      const match = /(\d+) packets transmitted, (\d+) received/.exec(output);
      const sent = Number(match?.[1] ?? 0);
      // The last request may still be in flight when ping is stopped: it is not counted as lost.
      const lost = Math.max(0, sent - Number(match?.[2] ?? 0) - 1);
      return { sent, lossPercent: sent === 0 ? 100 : (100 * lost) / sent };
    },
  };
}

/** A live churn subnet is forwarded by udp (no answer: nobody is there); a dead one gets "net unreachable". */
export function udpForwards(container: LabContainer, subnetIndex: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', container.name, 'ping', '-c', '1', '-W', '1', churnSubnet(subnetIndex).replace(/0$/, '7')]);
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.on('close', () => resolve(!/Destination Net Unreachable/.test(output)));
  });
}

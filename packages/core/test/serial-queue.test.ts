import { describe, expect, test } from 'vitest';
import { SerialQueue } from '../src/serial-queue.js';

describe('SerialQueue', () => {
  test('runs tasks one at a time in the order queued; a failure does not stop the next', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const first = queue.run(async () => {
      events.push('first start');
      await gate;
      events.push('first end');
      return 1;
    });
    const second = queue.run(async () => {
      events.push('second');
      throw new Error('second failed');
    });
    const third = queue.run(async () => (events.push('third'), 3));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events).toEqual(['first start']);
    release();
    await expect(first).resolves.toBe(1);
    await expect(second).rejects.toThrow('second failed');
    await expect(third).resolves.toBe(3);
    await queue.idle();
    expect(events).toEqual(['first start', 'first end', 'second', 'third']);
  });
});

import { describe, expect, it } from 'vitest';
import { waitProgress } from '../src/wait-progress.js';

describe('waitProgress', () => {
  it('is due once per period, with the seconds waited', () => {
    const progress = waitProgress(1000, 5000);
    expect(progress.due(1000)).toBeUndefined();
    expect(progress.due(5999)).toBeUndefined();
    expect(progress.due(6000)).toBe(5);
    expect(progress.due(7000)).toBeUndefined();
    // A loop that slept past several periods gets one line, not a burst.
    expect(progress.due(23_400)).toBe(22);
    expect(progress.due(25_000)).toBeUndefined();
    expect(progress.due(26_000)).toBe(25);
  });
});

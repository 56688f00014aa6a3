import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Scenarios share one machine's network stack and CPU: one file at a time.
    fileParallelism: false,
  },
});

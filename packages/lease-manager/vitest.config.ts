import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // etcd-backed tests wait on real timers (renewals, watches).
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

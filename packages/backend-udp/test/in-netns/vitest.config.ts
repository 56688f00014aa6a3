import { defineConfig } from 'vitest/config';

// Run only by contract.netns.test.ts, inside the namespace it made (`ip netns exec`): the TUN device the udp
// backend opens lives in the namespace of the process that opens it.
export default defineConfig({ test: { include: ['test/in-netns/*.contract.ts'], testTimeout: 20_000 } });

import { defineConfig } from 'tsup';

export default defineConfig({
  // The data-path worker is its own entry: the forwarder starts it from dist/datapath-worker.js.
  entry: ['src/index.ts', 'src/datapath-worker.ts'],
  format: ['esm'],
  dts: { entry: 'src/index.ts' },
  sourcemap: true,
  clean: true,
  target: 'node20',
});

import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.preset';

// The data-path worker is its own entry: the forwarder starts it from dist/datapath-worker.js.
export default defineConfig(libraryConfig({ workers: ['src/datapath-worker.ts'] }));

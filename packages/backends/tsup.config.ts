import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.preset';

// `@flannel-ts/backends/names` is the list of backend names without any backend code (for --help and completion).
export default defineConfig(libraryConfig({ subpaths: ['src/names.ts'] }));

import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.preset';

// `@flannel-ts/core/command-line`: errors, logger and help rendering without the IP code (for --help paths).
export default defineConfig(libraryConfig({ subpaths: ['src/command-line.ts'] }));

import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.preset';

// `@flannel-ts/docker-integration/options`: defaults and option checks alone, for flannel-docker-setup's --help.
export default defineConfig(libraryConfig({ subpaths: ['src/options.ts'] }));

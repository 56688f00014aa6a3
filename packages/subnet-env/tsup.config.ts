import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.preset';

// `@flannel-ts/subnet-env/paths`: the default file path alone, for flags and help.
export default defineConfig(libraryConfig({ subpaths: ['src/paths.ts'] }));

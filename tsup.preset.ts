/**
 * The one tsup setup of the workspace: packages build as libraries (dependencies external, so they are importable
 * exactly as before), apps build as bundles (workspace packages and small pure-JS dependencies inlined, code split
 * at dynamic imports), so a command loads a handful of files instead of walking hundreds of modules.
 */
import type { Options } from 'tsup';

const common: Options = { format: ['esm'], sourcemap: true, clean: true, target: 'node20' };

/** A library package: `src/index.ts` (plus `extraEntries`), types for the index. */
export function libraryConfig(extraEntries: string[] = []): Options {
  return { ...common, entry: ['src/index.ts', ...extraEntries], dts: extraEntries.length > 0 ? { entry: 'src/index.ts' } : true };
}

/**
 * An app: `src/main.ts` is the command, `src/index.ts` what its tests and tools import. Everything is bundled except
 * `external`: native addons (koffi), packages that read files next to their own code at run time, and what is
 * loaded only on demand and is big (prom-client).
 */
export function appConfig(options: { external?: string[]; workers?: string[] } = {}): Options {
  const external = options.external ?? [];
  // A workspace package named in `external` stays a package of its own; every other one is inlined.
  const keptPackages = external.filter((name) => name.startsWith('@flannel-ts/')).map((name) => name.slice('@flannel-ts/'.length));
  const workspace = keptPackages.length > 0 ? new RegExp(`^@flannel-ts/(?!(${keptPackages.join('|')})$)`) : /^@flannel-ts\//;
  return {
    ...common,
    // Worker scripts are entries of their own: a bundled package starts them from a file next to its code.
    entry: ['src/main.ts', 'src/index.ts', ...(options.workers ?? [])],
    dts: { entry: 'src/index.ts' },
    splitting: true,
    noExternal: [workspace, 'cac', 'ip-num', 'cockatiel'],
    external,
  };
}

/**
 * The one tsup setup of the workspace: packages build as libraries (dependencies external, so they are importable
 * exactly as before), apps build as bundles (workspace packages and pure-JS dependencies inlined, code split at
 * dynamic imports), so a command loads a handful of files instead of walking hundreds of modules; the CNI plugin
 * builds as one self-contained file (singleFileConfig). Every tsup.config.ts is one call to one of these.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Options } from 'tsup';

const SCRIPTS = join(dirname(fileURLToPath(import.meta.url)), 'scripts');

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

const common: Options = { format: ['esm'], sourcemap: true, clean: true, target: 'node20' };

/**
 * A library package: `src/index.ts`, `subpaths` (further entry points of its package.json `exports`, typed like the
 * index) and `workers` (scripts the package starts from a file of their own; nothing imports them, so no types).
 */
export function libraryConfig(options: { subpaths?: string[]; workers?: string[] } = {}): Options {
  const typed = ['src/index.ts', ...(options.subpaths ?? [])];
  return { ...common, entry: [...typed, ...(options.workers ?? [])], dts: { entry: typed } };
}

/**
 * A command that must load nothing but itself (the CNI plugin: a runtime starts it once per container): `entry`
 * names the one CommonJS output file, with the workspace packages and `bundled` dependencies inlined.
 */
export function singleFileConfig(options: { entry: Record<string, string>; bundled?: string[] }): Options {
  return { ...common, entry: options.entry, format: ['cjs'], splitting: false, noExternal: [/^@flannel-ts\//, ...(options.bundled ?? [])] };
}

/**
 * An app: `src/main.ts` is the command, `src/index.ts` what its tests and tools import, `workers` worker scripts
 * (entries of their own: a bundled package starts them from a file next to its code). Everything is bundled
 * except `external`: native addons (koffi), and what is loaded only on demand and is big (prom-client). etcd3 is
 * bundled too, loaded on first use, with its service definitions parsed at build time (etcd3Bundled).
 * `launcherEnv`: variables node must find in its environment when it starts (glibc's malloc reads its settings
 * then, before any JavaScript runs); dist/main.js then starts as a two-line sh launcher (writeLauncherHeader).
 */
export function appConfig(options: { external?: string[]; workers?: string[]; launcherEnv?: Record<string, string> } = {}): Options {
  const external = options.external ?? [];
  const launcherEnv = options.launcherEnv;
  return {
    ...common,
    entry: ['src/main.ts', 'src/index.ts', ...(options.workers ?? [])],
    dts: { entry: 'src/index.ts' },
    splitting: true,
    noExternal: [/^@flannel-ts\//, 'cac', 'ip-num'],
    external,
    esbuildPlugins: [etcd3Bundled()],
    // etcd3.cjs's V8 code cache, made under the app's own node flags once the bundle is written.
    onSuccess: async () => {
      if (launcherEnv) await writeLauncherHeader(join('dist', 'main.js'), launcherEnv);
      await promisify(execFile)(process.execPath, [join(SCRIPTS, 'write-code-cache.mjs'), 'dist']);
    },
    // Bundled CommonJS code (etcd3, grpc-js) calls require() for Node's own modules; ESM has none of its own.
    banner: { js: "import { createRequire as __flannelCreateRequire } from 'node:module'; const require = __flannelCreateRequire(import.meta.url);" },
  };
}

/**
 * Replaces main.js's `#!/usr/bin/env node` with a launcher that sets `env` and then runs node on the same file:
 *
 *     #!/bin/sh
 *     //bin/true; export NAME=value ...; exec node "$0" "$@"
 *
 * sh runs the second line (`//bin/true` is /bin/true) and execs node, which skips the `#!` line and reads the second
 * as a comment. No node or V8 flag is added (node's own code cache is keyed by V8 flags: any flag there makes
 * every start slower), `env -S` is not needed (BusyBox's env has no -S), and `node dist/main.js` still works, only
 * without the variables. The values are checked here, since they end up in a shell line.
 */
async function writeLauncherHeader(file: string, env: Record<string, string>): Promise<void> {
  const text = await readFile(file, 'utf8');
  const shebang = '#!/usr/bin/env node\n';
  if (!text.startsWith(shebang)) throw new Error(`${file} does not start with ${JSON.stringify(shebang)}: the launcher cannot replace its #! line`);
  const assignments = Object.entries(env).map(([name, value]) => {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name) || !/^[A-Za-z0-9_.:=,-]*$/.test(value)) throw new Error(`launcherEnv ${name}=${value}: only plain names and values fit the launcher line`);
    return `${name}=${value}`;
  });
  await writeFile(file, `#!/bin/sh\n//bin/true; export ${assignments.join(' ')}; exec node "$0" "$@"\n${text.slice(shebang.length)}`);
}

/**
 * etcd3 reads `proto/rpc.proto` next to its own code and parses it with protobufjs each time it is loaded (about
 * 30 ms), which is why it cannot simply be inlined. This plugin bundles it into a file of its own, `etcd3.cjs`
 * next to the app's chunks, with rpc.proto parsed once, here, and inlined as protobufjs JSON; the client service
 * definitions are built from it at load (serviceDefinitions) with proto-loader's serializers. lease-manager's lazy
 * `createRequire(import.meta.url)('etcd3')` becomes a load of `./etcd3.cjs` through `cached-require.cjs` (V8's code
 * cache, written after the build by scripts/write-code-cache.mjs: about 50 ms less from start to subnet.env), still
 * evaluated only when the first client is made, so commands that never talk to etcd neither read nor parse it.
 * Each rewrite checks the text it replaces and fails the build when an etcd3 or lease-manager change moved it.
 */
function etcd3Bundled(): EsbuildPlugin {
  const LAZY_LOAD = 'createRequire(import.meta.url)("etcd3")';
  const CACHED_LOAD = 'require("./cached-require.cjs").loadCached(require("node:url").fileURLToPath(new URL("./etcd3.cjs", import.meta.url))).exports';
  const LOAD_LOADER = 'const proto_loader_1 = require("@grpc/proto-loader");';
  const LOAD_PROTO = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/;
  const protoInlined: EsbuildPlugin = {
    name: 'etcd3-proto-inlined',
    setup(build) {
      build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!LOAD_PROTO.test(source) || !source.includes(LOAD_LOADER)) throw new Error(`${args.path} no longer loads rpc.proto as expected: update etcd3Bundled in tsup.preset.ts`);
        // protobufjs and lodash.camelcase as etcd3's own @grpc/proto-loader uses them.
        const loaderRequire = createRequire(createRequire(args.path).resolve('@grpc/proto-loader'));
        const protobufPath = loaderRequire.resolve('protobufjs');
        const camelCasePath = loaderRequire.resolve('lodash.camelcase');
        const protobuf = loaderRequire('protobufjs') as { Root: new () => { loadSync(file: string, options: object): { resolveAll(): { toJSON(): unknown } } } };
        // Parsed with the option loadSync passes on (keepCase).
        const json = new protobuf.Root().loadSync(join(dirname(args.path), '../proto/rpc.proto'), { keepCase: true }).resolveAll().toJSON();
        // proto-loader itself is no longer needed (its module set-up parses descriptor.proto: about 10 ms).
        const contents = source.replace(LOAD_LOADER, 'const proto_loader_1 = {};').replace(LOAD_PROTO, `(0, __etcd3ServiceDefinitions)(${JSON.stringify(json)}, {`);
        return { contents: `${serviceDefinitions(protobufPath, camelCasePath)}\n${contents}`, loader: 'js' };
      });
    },
  };
  return {
    name: 'etcd3-bundled',
    setup(build) {
      let leaseManager: string | undefined;
      build.onLoad({ filter: /[\\/]lease-manager[\\/]dist[\\/]index\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes(LAZY_LOAD)) throw new Error(`${args.path} no longer loads etcd3 with ${LAZY_LOAD}: update etcd3Bundled in tsup.preset.ts`);
        leaseManager = args.path;
        return { contents: source.replace(LAZY_LOAD, CACHED_LOAD), loader: 'js' };
      });
      build.onResolve({ filter: /^\.\/(etcd3|cached-require)\.cjs$/ }, (args) => ({ path: args.path, external: true }));
      build.onEnd(async (result) => {
        if (!leaseManager || result.errors.length > 0) return;
        // tsup writes the bundle after this hook: on a clean checkout dist/ does not exist yet.
        await mkdir(build.initialOptions.outdir ?? 'dist', { recursive: true });
        await copyFile(join(SCRIPTS, 'cached-require.cjs'), join(build.initialOptions.outdir ?? 'dist', 'cached-require.cjs'));
        // etcd3, plus the setLogger of the very grpc-js it bundles, so grpc's own log lines can be routed to the
        // daemon's logger (lease-manager's routeGrpcLogs) instead of stderr.
        const require = createRequire(leaseManager);
        await build.esbuild.build({
          stdin: {
            contents: `module.exports = { ...require(${JSON.stringify(require.resolve('etcd3'))}), setGrpcLogger: require(${JSON.stringify(createRequire(require.resolve('etcd3')).resolve('@grpc/grpc-js'))}).setLogger };`,
            resolveDir: dirname(leaseManager),
            loader: 'js',
          },
          outfile: join(build.initialOptions.outdir ?? 'dist', 'etcd3.cjs'),
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          logLevel: 'warning',
          plugins: [protoInlined],
          // Less to read and scan at load; names stay (error classes are told apart by name).
          minifyWhitespace: true,
          minifySyntax: true,
        });
      });
    },
  };
}

/**
 * The part of @grpc/proto-loader's package definition that grpc-js's loadPackageDefinition uses to make clients:
 * per service method its path, streaming flags, proto-loader's own serializers and originalName. Left out: the
 * descriptor objects proto-loader builds for every message type (for server reflection, which a client never
 * uses), which cost about 20 ms and a few MiB to build.
 */
function serviceDefinitions(protobufPath: string, camelCasePath: string): string {
  return `var __etcd3ServiceDefinitions = (json, options) => {
  const protobuf = require(${JSON.stringify(protobufPath)});
  const camelCase = require(${JSON.stringify(camelCasePath)});
  // No resolveAll(): each method resolves its two types, and a type resolves its fields when first used.
  const root = protobuf.Root.fromJSON(json);
  const serializer = (type) => (arg) => {
    if (Array.isArray(arg)) throw new Error(\`Failed to serialize message: expected object with \${type.name} structure, got array instead\`);
    return type.encode(type.fromObject(arg)).finish();
  };
  const deserializer = (type) => (buffer) => type.toObject(type.decode(buffer), options);
  const definitions = {};
  const visit = (namespace, prefix) => {
    for (const object of namespace.nestedArray) {
      const name = prefix ? prefix + '.' + object.name : object.name;
      if (object instanceof protobuf.Service) {
        const service = {};
        for (const method of object.methodsArray) {
          method.resolve();
          const request = method.resolvedRequestType;
          const response = method.resolvedResponseType;
          service[method.name] = {
            path: '/' + name + '/' + method.name,
            requestStream: !!method.requestStream,
            responseStream: !!method.responseStream,
            requestSerialize: serializer(request),
            requestDeserialize: deserializer(request),
            responseSerialize: serializer(response),
            responseDeserialize: deserializer(response),
            originalName: camelCase(method.name),
          };
        }
        definitions[name] = service;
      } else if (object.nestedArray) visit(object, name);
    }
  };
  visit(root, '');
  return definitions;
};`;
}

/**
 * The `flannel` executable. With CNI_COMMAND set (how every runtime runs it) it speaks the CNI protocol: config on
 * stdin, result or CNI error JSON on stdout, exit 0 or 1. Without it, it is an operator's tool: `--help`,
 * `--version`, `install [--dir D]`; usage errors exit 2. With neither, it prints what it is (as libcni's skel
 * does) and exits 0.
 */
import { parseArgs } from 'node:util';
import { CNI_CODE, CniError, formatCniError, toCniError } from './cni-error.js';
import { versionInfo, type CniRequest } from './cni-request.js';
import { aboutText, DEFAULT_INSTALL_DIR, helpText, PROGRAM, VERSION } from './help.js';
import { replyVersion, SUPPORTED_VERSIONS } from './net-conf.js';

export interface TextWriter {
  write(chunk: string): unknown;
}

export interface PluginIo {
  readonly stdout: TextWriter;
  readonly stderr: TextWriter;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** All of stdin; called only for the commands that take a config. */
  readonly readStdin: () => Promise<string>;
  /** The file `install` copies: this bundle. */
  readonly executable: string;
  /** The interpreter `install` writes into the copy's `#!` line. */
  readonly nodePath: string;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Each operation is loaded when asked for (the bundler keeps it in the one file, initialised lazily): DEL and CHECK
 * never load subnet.env parsing, IP math or ip-num, VERSION and the tool commands load no operation at all.
 */
const OPERATIONS: Record<string, () => Promise<(req: CniRequest) => Promise<string>>> = {
  ADD: async () => (await import('./add.js')).cmdAdd,
  DEL: async () => (await import('./del.js')).cmdDel,
  CHECK: async () => (await import('./check.js')).cmdCheck,
};

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export async function runPlugin(argv: readonly string[], io: PluginIo): Promise<number> {
  const command = io.env['CNI_COMMAND'];
  if (command !== undefined && command !== '') return runCniCommand(command, io);
  return runTool(argv, io);
}

async function runCniCommand(command: string, io: PluginIo): Promise<number> {
  if (command === 'VERSION') {
    io.stdout.write(versionInfo());
    return EXIT_OK;
  }
  let stdin = '';
  try {
    const load = OPERATIONS[command];
    if (load === undefined) {
      throw new CniError(CNI_CODE.INVALID_ENVIRONMENT, `unknown CNI_COMMAND: ${command}`, 'flannel handles ADD, DEL, CHECK and VERSION');
    }
    const handler = await load();
    stdin = await io.readStdin();
    const request: CniRequest = { env: io.env, stdin, stderr: io.stderr, ...(io.sleep ? { sleep: io.sleep } : {}) };
    io.stdout.write(await handler(request));
    return EXIT_OK;
  } catch (err) {
    io.stdout.write(formatCniError(toCniError(err), replyVersion(stdin)));
    return EXIT_FAILED;
  }
}

const TOOL_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  dir: { type: 'string' },
  node: { type: 'string' },
} as const;

function parseToolArgs(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: TOOL_OPTIONS, allowPositionals: true, strict: true });
}

async function runTool(argv: readonly string[], io: PluginIo): Promise<number> {
  if (argv.length === 0) {
    io.stderr.write(aboutText());
    return EXIT_OK;
  }
  let parsed: ReturnType<typeof parseToolArgs>;
  try {
    parsed = parseToolArgs(argv);
  } catch (err) {
    return usage(io, (err as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') {
    io.stdout.write(helpText());
    return EXIT_OK;
  }
  if (values.version || positionals[0] === 'version') {
    io.stdout.write(`${PROGRAM} ${VERSION} (flannel-ts), CNI spec versions ${SUPPORTED_VERSIONS.join(', ')}\n`);
    return EXIT_OK;
  }
  if (positionals[0] !== 'install') return usage(io, positionals[0] === undefined ? 'options --dir and --node go with "install"' : `unknown command "${positionals[0]}"`);
  if (positionals.length > 1) return usage(io, `unexpected argument "${positionals[1]}": install takes only --dir and --node`);
  if (values.dir === '') return usage(io, '--dir needs a directory');
  try {
    const { installPlugin } = await import('./install.js');
    const path = await installPlugin({ source: io.executable, dir: values.dir ?? DEFAULT_INSTALL_DIR, nodePath: values.node ?? io.nodePath });
    io.stdout.write(`installed ${path} (runs ${values.node ?? io.nodePath}); a conflist entry {"type": "flannel"} now uses it\n`);
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`${PROGRAM}: ${toCniError(err).message}\n`);
    return EXIT_FAILED;
  }
}

function usage(io: PluginIo, problem: string): number {
  io.stderr.write(`${PROGRAM}: ${problem}\nusage: ${PROGRAM} install [--dir DIR] [--node PATH] | --help | --version\n`);
  return EXIT_USAGE;
}

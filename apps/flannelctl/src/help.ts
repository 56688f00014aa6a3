/** Help and usage text, generated from the command specs and the etcd flag table (cac's own help prints with console.info). */
import packageJson from '../package.json' with { type: 'json' };
import { commandWords, type Command, type CommandGroup } from './command.js';
import { ETCD_FLAG_LIST, envName } from './options.js';

export const PROGRAM = 'flannelctl';
export const VERSION: string = packageJson.version;

function optionRows(options: readonly { flag: string; value?: string | undefined; help: string }[]): string[][] {
  return options.map((o) => [`  --${o.flag}${o.value ? ` ${o.value}` : ''}`, o.help]);
}

function etcdOptionsSection(): string {
  const rows = ETCD_FLAG_LIST.map((f) => {
    const fallback = Array.isArray(f.default) ? f.default.join(',') : f.default;
    return [`  --${f.flag} ${f.value}`, `${f.help} [${envName(f.flag)}]${fallback ? ` (default ${String(fallback)})` : ''}`];
  });
  return `etcd options (also read from FLANNELD_* variables, as flanneld does):\n${renderRowsPlain(rows)}`;
}

function renderRowsPlain(rows: readonly string[][]): string {
  const width = Math.max(...rows.map((r) => r[0]!.length));
  return rows.map(([left, right]) => `${left!.padEnd(width)}  ${right}`).join('\n');
}

const EXIT_CODES_SECTION =
  'Exit codes: 0 success, 1 operation failed (invalid config, conflict, not found, etcd error; doctor: a check failed), 2 usage error,\n' +
  '130 interrupted (leases watch exits 0 on SIGINT/SIGTERM).';

export function topUsage(groups: readonly CommandGroup[]): string {
  return `Usage: ${PROGRAM} <${groups.map((g) => g.name).join('|')}> [command] [options]\nRun \`${PROGRAM} --help\` for the commands.`;
}

export function groupUsage(group: CommandGroup): string {
  return `Usage: ${PROGRAM} ${group.name} <${group.commands.map((c) => c.name).join('|')}> [options]\nRun \`${PROGRAM} ${group.name} --help\` for details.`;
}

export function commandUsage(group: CommandGroup, command: Command): string {
  return `Usage: ${commandSynopsis(group, command)}\nRun \`${PROGRAM} ${commandWords(group, command)} --help\` for details.`;
}

function commandSynopsis(group: CommandGroup, command: Command): string {
  return `${PROGRAM} ${commandWords(group, command)}${command.args ? ` ${command.args}` : ''} [options]`;
}

export function renderTopHelp(groups: readonly CommandGroup[]): string {
  const commands = groups.flatMap((g) => g.commands.map((c) => [`  ${commandWords(g, c)}${c.args ? ` ${c.args}` : ''}`, c.summary]));
  return [
    `${PROGRAM} ${VERSION}: admin tool for a flannel network kept in etcd (same keys and JSON as flannel)`,
    '',
    `Usage: ${PROGRAM} <group> <command> [arguments] [options]`,
    '',
    `Commands:\n${renderRowsPlain(commands)}`,
    '',
    etcdOptionsSection(),
    '',
    `Other options:\n${renderRowsPlain([['  -h, --help', 'show help (also after any command)'], ['  --version', 'show the version']])}`,
    '',
    'Examples:',
    `  ${PROGRAM} config set 10.1.0.0/16 --backend vxlan`,
    `  ${PROGRAM} leases list --etcd-endpoints http://10.0.0.5:2379`,
    `  ${PROGRAM} status`,
    `  ${PROGRAM} doctor --healthz-url http://127.0.0.1:8471`,
    `  ${PROGRAM} leases watch --json`,
    `  source <(${PROGRAM} completion bash)`,
    `  ${PROGRAM} config get --help`,
    '',
    'Flags may also be written Go-style with one dash (-etcd-endpoints=URL), as for flanneld.',
    EXIT_CODES_SECTION,
  ].join('\n');
}

export function renderGroupHelp(group: CommandGroup): string {
  const commands = group.commands.map((c) => [`  ${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary]);
  return [
    `${PROGRAM} ${group.name}: ${group.summary}`,
    '',
    `Usage: ${PROGRAM} ${group.name} <command> [arguments] [options]`,
    '',
    `Commands:\n${renderRowsPlain(commands)}`,
    '',
    etcdOptionsSection(),
    '',
    'Examples:',
    ...group.commands.map((c) => `  ${c.examples[0]}`),
    '',
    `Run \`${PROGRAM} ${group.name} <command> --help\` for a command's options.`,
  ].join('\n');
}

export function renderCommandHelp(group: CommandGroup, command: Command): string {
  const sections = [`${PROGRAM} ${commandWords(group, command)}: ${command.summary}`, '', `Usage: ${commandSynopsis(group, command)}`];
  if (command.details) sections.push('', command.details);
  if (command.options.length > 0) sections.push('', `Options:\n${renderRowsPlain(optionRows(command.options))}`);
  sections.push('', etcdOptionsSection(), '', 'Examples:', ...command.examples.map((e) => `  ${e}`), '', EXIT_CODES_SECTION);
  return sections.join('\n');
}

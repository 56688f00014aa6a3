/**
 * Help and usage text, generated from the command specs and the etcd flag table through core's one help renderer
 * (the style flanneld and flannel-docker-setup share); the man page comes from the same description. cac's own
 * help prints with console.info, so it is not used.
 */
import { renderHelp, renderManPage, type HelpDocument, type HelpOption, type HelpSection } from '@flannel-ts/core/command-line';
import packageJson from '../package.json' with { type: 'json' };
import { commandWords, type Command, type CommandGroup } from './command.js';
import { ETCD_FLAG_LIST, envName } from './options.js';

export const PROGRAM = 'flannelctl';
export const VERSION: string = packageJson.version;

const EXIT_STATUS =
  '0 success, 1 operation failed (invalid config, conflict, not found, etcd error; doctor: a check failed), 2 usage error, ' +
  '130 interrupted (leases watch exits 0 on SIGINT/SIGTERM).';

function etcdOptions(): HelpOption[] {
  return ETCD_FLAG_LIST.map((f) => {
    const fallback = Array.isArray(f.default) ? f.default.join(',') : f.default;
    return { flag: f.flag, value: f.value, help: f.help, default: fallback ? String(fallback) : undefined, env: envName(f.flag) };
  });
}

/** Shown under each command instead of repeating the whole etcd block. */
const GLOBAL_OPTIONS: HelpSection = {
  title: 'Global options',
  rows: [
    ['--etcd-* ...', `where etcd is (--etcd-endpoints, --etcd-prefix, TLS, auth; also from FLANNELD_* variables): see \`${PROGRAM} help\``],
    ['-h, --help', 'show this help'],
  ],
};

export function topUsage(groups: readonly CommandGroup[]): string {
  return `Usage: ${PROGRAM} <${groups.map((g) => g.name).join('|')}> [command] [options]\nRun \`${PROGRAM} help\` for the commands.`;
}

export function groupUsage(group: CommandGroup): string {
  return `Usage: ${PROGRAM} ${group.name} <${group.commands.map((c) => c.name).join('|')}> [options]\nRun \`${PROGRAM} help ${group.name}\` for details.`;
}

export function commandUsage(group: CommandGroup, command: Command): string {
  return `Usage: ${commandSynopsis(group, command)}\nRun \`${PROGRAM} help ${commandWords(group, command)}\` for details.`;
}

function commandSynopsis(group: CommandGroup, command: Command): string {
  return `${PROGRAM} ${commandWords(group, command)}${command.args ? ` ${command.args}` : ''} [options]`;
}

export function topHelpDocument(groups: readonly CommandGroup[]): HelpDocument {
  const commands = groups.flatMap((g) => g.commands.map((c): [string, string] => [`${commandWords(g, c)}${c.args ? ` ${c.args}` : ''}`, c.summary]));
  return {
    program: PROGRAM,
    version: VERSION,
    summary: 'admin tool for a flannel network kept in etcd (same keys and JSON as flannel)',
    description: 'Flags may also be written Go-style with one dash (-etcd-endpoints=URL), as for flanneld.',
    usage: [`${PROGRAM} <command> [arguments] [options]`, `${PROGRAM} help [command]`],
    sections: [
      { title: 'Commands', rows: [...commands, ['help [command]', 'show help for a command (the same as the command with --help)']] },
      { title: 'etcd options (also from FLANNELD_* variables, as flanneld reads them)', options: etcdOptions() },
      {
        title: 'Other options',
        options: [
          { flag: 'help', short: 'h', help: 'show help (also after any command)' },
          { flag: 'version', help: 'show the version' },
        ],
      },
    ],
    examples: [
      `${PROGRAM} config set 10.1.0.0/16 --backend vxlan`,
      `${PROGRAM} leases list --etcd-endpoints http://10.0.0.5:2379`,
      `${PROGRAM} status`,
      `${PROGRAM} doctor --healthz-url http://127.0.0.1:8471`,
      `${PROGRAM} leases watch --json`,
      `source <(${PROGRAM} completion bash)`,
      `${PROGRAM} help config get`,
    ],
    exitStatus: EXIT_STATUS,
  };
}

export function renderTopHelp(groups: readonly CommandGroup[]): string {
  return renderHelp(topHelpDocument(groups)).trimEnd();
}

export function renderGroupHelp(group: CommandGroup): string {
  return renderHelp({
    program: PROGRAM,
    version: VERSION,
    summary: `${group.name}: ${group.summary}`,
    usage: [`${PROGRAM} ${group.name} <command> [arguments] [options]`],
    sections: [{ title: 'Commands', rows: group.commands.map((c): [string, string] => [`${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary]) }, GLOBAL_OPTIONS],
    examples: group.commands.map((c) => c.examples[0]!),
    exitStatus: EXIT_STATUS,
  }).trimEnd();
}

export function renderCommandHelp(group: CommandGroup, command: Command): string {
  const sections: HelpSection[] = [];
  if (command.options.length > 0) sections.push({ title: 'Options', options: command.options.map((o) => ({ flag: o.flag, value: o.value, help: o.help })) });
  sections.push(GLOBAL_OPTIONS);
  return renderHelp({
    program: PROGRAM,
    version: VERSION,
    summary: `${commandWords(group, command)}: ${command.summary}`,
    ...(command.details ? { description: command.details.replace(/\n(?!\n)/g, ' ') } : {}),
    usage: [commandSynopsis(group, command)],
    sections,
    examples: command.examples,
    exitStatus: EXIT_STATUS,
  }).trimEnd();
}

/** The man page: the top help, then each command's options. */
export function manPage(groups: readonly CommandGroup[]): { program: string; page: string } {
  const top = topHelpDocument(groups);
  const perCommand = groups.flatMap((g) =>
    g.commands.map((c): HelpSection => ({
      title: `${PROGRAM} ${commandWords(g, c)}`,
      text: [c.summary, ...(c.details ? [c.details] : [])].join('\n'),
      ...(c.options.length > 0 ? { options: c.options.map((o) => ({ flag: o.flag, value: o.value, help: o.help })) } : {}),
    })),
  );
  return { program: PROGRAM, page: renderManPage({ ...top, sections: [...top.sections, ...perCommand] }) };
}

/**
 * `flannelctl completion bash|zsh`: a shell completion script, generated from the same command specs as the help,
 * so it always knows every command and option. Both scripts share one decision: find the command words typed so
 * far (skipping options and the values of options that take one), then offer the next word, the command's
 * options (when the word being typed starts with `-`), or a value for the option before it (files, backends).
 */
import { BACKEND_TYPES } from '@flannel-ts/backends/names';
import { UsageError } from '@flannel-ts/core/command-line';
import { defineCommand, type Command, type CommandGroup } from '../command.js';
import { ETCD_FLAG_LIST } from '../options.js';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** Options whose value is a path. */
const FILE_OPTIONS = ['--file', '--subnet-file', '--etcd-cafile', '--etcd-certfile', '--etcd-keyfile'];
/** Options with a fixed set of values. */
const CHOICE_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  '--backend': BACKEND_TYPES,
  '--backend-type': BACKEND_TYPES,
};
/** What a positional argument completes to, by its placeholder. */
const POSITIONAL_CHOICES: Readonly<Record<string, readonly string[] | 'files'>> = {
  '<SHELL>': SHELLS,
  '[FILE]': 'files',
};

interface Node {
  /** Command words that lead here, e.g. [] (top), ['leases'], ['leases', 'list'], ['status']. */
  readonly path: readonly string[];
  /** Words that may come next (subcommands, or choices for a positional argument). */
  readonly words: readonly string[];
  /** Complete file names for the next word. */
  readonly files: boolean;
  readonly options: readonly string[];
}

const ETCD_OPTIONS = ETCD_FLAG_LIST.map((f) => `--${f.flag}`);
const HELP = ['--help'];

function commandNode(path: readonly string[], command: Command): Node {
  const firstArg = command.args.split(' ')[0] ?? '';
  const positional = POSITIONAL_CHOICES[firstArg];
  return {
    path,
    words: Array.isArray(positional) ? positional : [],
    files: positional === 'files',
    options: [...command.options.map((o) => `--${o.flag}`), ...ETCD_OPTIONS, ...HELP],
  };
}

/** Every place on a command line where completion can be asked for. */
export function completionNodes(groups: readonly CommandGroup[]): Node[] {
  const nodes: Node[] = [
    { path: [], words: [...groups.map((g) => g.name), 'help'], files: false, options: [...ETCD_OPTIONS, ...HELP, '--version'] },
    // `flannelctl help <command>` completes the command words.
    { path: ['help'], words: groups.map((g) => g.name), files: false, options: [] },
    ...groups.filter((g) => !g.standalone).map((g): Node => ({ path: ['help', g.name], words: g.commands.map((c) => c.name), files: false, options: [] })),
  ];
  for (const group of groups) {
    if (group.standalone) {
      nodes.push(commandNode([group.name], group.commands[0]!));
      continue;
    }
    nodes.push({ path: [group.name], words: group.commands.map((c) => c.name), files: false, options: [...ETCD_OPTIONS, ...HELP] });
    for (const command of group.commands) nodes.push(commandNode([group.name, command.name], command));
  }
  return nodes;
}

function valueOptions(groups: readonly CommandGroup[]): string[] {
  const all = [...ETCD_OPTIONS, ...groups.flatMap((g) => g.commands.flatMap((c) => c.options.filter((o) => o.value).map((o) => `--${o.flag}`)))];
  return [...new Set(all)].sort();
}

/**
 * The function body both shells share (they differ in how words are read and candidates offered): collect the
 * command words before the cursor into `cmd`, complete an option's value, else pick the node for `cmd` and offer
 * its options (after `-`) or its next word.
 */
function scriptBody(groups: readonly CommandGroup[], shell: Shell): string {
  const nodes = completionNodes(groups);
  // bash arrays count from 0, zsh arrays from 1.
  const word = (n: number) => `\${cmd[${shell === 'bash' ? n : n + 1}]}`;
  const files = shell === 'bash' ? 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))' : '_files';
  const offer = (list: string) => (shell === 'bash' ? `COMPREPLY=($(compgen -W "${list}" -- "$cur"))` : `compadd -- ${list}`);
  const lines: string[] = [];
  lines.push(`  local value_opts=" ${valueOptions(groups).join(' ')} "`);
  lines.push('  local -a cmd=()');
  lines.push('  local i w');
  lines.push(`  for ((i = ${shell === 'bash' ? 1 : 2}; i < ${shell === 'bash' ? 'COMP_CWORD' : 'CURRENT'}; i++)); do`);
  lines.push(`    w="${shell === 'bash' ? '${COMP_WORDS[i]}' : '${words[i]}'}"`);
  lines.push('    if [[ "$w" == -* ]]; then');
  lines.push('      if [[ "$w" != *=* && "$value_opts" == *" $w "* ]]; then ((i++)); fi');
  lines.push('    else');
  lines.push('      cmd+=("$w")');
  lines.push('    fi');
  lines.push('  done');
  // A value for the option before the cursor.
  lines.push('  if [[ "$cur" != -* && "$value_opts" == *" $prev "* ]]; then');
  lines.push('    case "$prev" in');
  lines.push(`      ${FILE_OPTIONS.join('|')}) ${files} ;;`);
  for (const [option, choices] of Object.entries(CHOICE_OPTIONS)) lines.push(`      ${option}) ${offer(choices.join(' '))} ;;`);
  lines.push('    esac');
  lines.push('    return 0');
  lines.push('  fi');
  // The node for the words typed so far: match on the joined path, longest first.
  lines.push(`  case "${word(0)} ${word(1)}" in`);
  const sorted = [...nodes].sort((a, b) => b.path.length - a.path.length);
  for (const node of sorted) {
    const pattern = node.path.length === 0 ? '" "' : node.path.length === 1 ? `"${node.path[0]} "*` : `"${node.path[0]} ${node.path[1]}"*`;
    const body: string[] = [];
    body.push(`      if [[ "$cur" == -* ]]; then ${offer(node.options.join(' '))};`);
    // The next word is offered only while none was typed there yet (`completion bash <TAB>` offers nothing).
    if (node.words.length > 0 || node.files) body.push(`      elif [[ -z "${word(node.path.length)}" ]]; then ${node.files ? files : offer(node.words.join(' '))};`);
    body.push('      fi ;;');
    lines.push(`    ${pattern})`, ...body);
  }
  lines.push('  esac');
  return lines.join('\n');
}

export function renderCompletion(shell: Shell, groups: readonly CommandGroup[]): string {
  if (shell === 'bash') {
    return [
      '# bash completion for flannelctl. Load it with:  source <(flannelctl completion bash)',
      '# or install it:  flannelctl completion bash > /etc/bash_completion.d/flannelctl',
      '_flannelctl() {',
      '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
      '  COMPREPLY=()',
      scriptBody(groups, 'bash'),
      '}',
      'complete -F _flannelctl flannelctl',
    ].join('\n');
  }
  return [
    '#compdef flannelctl',
    '# zsh completion for flannelctl. Load it with:  source <(flannelctl completion zsh)   (after compinit)',
    '# or install it as _flannelctl in a directory of $fpath.',
    '_flannelctl() {',
    '  local cur="${words[CURRENT]}" prev="${words[CURRENT-1]}"',
    scriptBody(groups, 'zsh'),
    '}',
    'if [[ "${funcstack[1]}" == "_flannelctl" ]]; then',
    '  _flannelctl "$@"',
    'else',
    '  compdef _flannelctl flannelctl',
    'fi',
  ].join('\n');
}

/** The completion command; `groups` is read when it runs (the command list includes this command). */
export function createCompletionCommand(groups: () => readonly CommandGroup[]): Command {
  return defineCommand<{ shell: Shell }>({
    name: 'completion',
    args: '<SHELL>',
    summary: 'print a shell completion script (bash or zsh)',
    details:
      'Prints a script that completes commands, options and option values. Load it in the current shell with\n' +
      '`source <(flannelctl completion bash)` (zsh: `source <(flannelctl completion zsh)` after compinit), or add\n' +
      'that line to ~/.bashrc / ~/.zshrc.',
    options: [],
    examples: ['source <(flannelctl completion bash)', 'flannelctl completion zsh > "${fpath[1]}/_flannelctl"'],
    parse: (positionals) => {
      const shell = positionals[0] ?? '';
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`unknown shell "${shell}": use one of ${SHELLS.join(', ')}`);
      return { shell: shell as Shell };
    },
    run: async ({ shell }, ctx) => ctx.out(renderCompletion(shell, groups())),
  });
}

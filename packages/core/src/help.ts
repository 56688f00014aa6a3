/**
 * One help style for the three tools, rendered from each tool's own option table: `--help` text and, from the same
 * description, a man page (roff). Pure text; the apps own the tables and print the result.
 *
 *   Usage: flanneld [options]
 *
 *   etcd:
 *     --etcd-endpoints <list>     a comma-delimited list of etcd endpoints
 *                                 (default http://127.0.0.1:4001,http://127.0.0.1:2379; env FLANNELD_ETCD_ENDPOINTS)
 */
export interface HelpOption {
  /** Long name without dashes. */
  readonly flag: string;
  /** One-letter alias without the dash. */
  readonly short?: string | undefined;
  /** Value placeholder such as `<file>`; absent for a boolean flag. */
  readonly value?: string | undefined;
  readonly help: string;
  /** Shown as `default X`; absent or '' for none. */
  readonly default?: string | undefined;
  /** The environment variable that sets it. */
  readonly env?: string | undefined;
}

export interface HelpSection {
  readonly title: string;
  /** Option rows, or free text (already laid out) when `text` is given. */
  readonly options?: readonly HelpOption[];
  /** Two-column rows that are not options: commands, modes. */
  readonly rows?: readonly (readonly [string, string])[];
  readonly text?: string;
}

export interface HelpDocument {
  readonly program: string;
  readonly version: string;
  /** One line: what the tool is. */
  readonly summary: string;
  /** A paragraph after the summary. */
  readonly description?: string;
  readonly usage: readonly string[];
  readonly sections: readonly HelpSection[];
  readonly examples: readonly string[];
  /** e.g. "0 success, 1 failed, 2 usage error". */
  readonly exitStatus: string;
}

const LINE_WIDTH = 118;
const LEFT_WIDTH = 30;

export function optionNames(option: HelpOption): string {
  const long = `--${option.flag}${option.value ? ` ${option.value}` : ''}`;
  if (option.short === option.flag) return `-${option.flag}${option.value ? ` ${option.value}` : ''}`;
  return option.short ? `-${option.short}, ${long}` : long;
}

function optionDetail(option: HelpOption): string {
  const extras = [option.default ? `default ${option.default}` : '', option.env ? `env ${option.env}` : ''].filter(Boolean);
  return extras.length === 0 ? option.help : `${option.help} (${extras.join('; ')})`;
}

/** `help` wrapped at `width`, never breaking a word. */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** Two columns: the left one padded, the right one wrapped under itself; a long left cell puts the text below. */
export function renderRows(rows: readonly (readonly [string, string])[]): string {
  const indent = ' '.repeat(2 + LEFT_WIDTH + 2);
  return rows
    .map(([left, right]) => {
      const lines = wrapText(right, LINE_WIDTH - indent.length);
      const head = left.length <= LEFT_WIDTH ? `  ${left.padEnd(LEFT_WIDTH)}  ${lines[0]}` : `  ${left}\n${indent}${lines[0]}`;
      return [head, ...lines.slice(1).map((l) => `${indent}${l}`)].join('\n');
    })
    .join('\n');
}

export function renderHelp(doc: HelpDocument): string {
  const parts = [`${doc.program} v${doc.version}: ${doc.summary}`];
  if (doc.description) parts.push('', ...doc.description.split('\n\n').flatMap((paragraph, i) => [...(i > 0 ? [''] : []), ...wrapText(paragraph, LINE_WIDTH)]));
  parts.push('', `Usage: ${doc.usage[0]}`, ...doc.usage.slice(1).map((u) => `       ${u}`));
  for (const section of doc.sections) {
    parts.push('', `${section.title}:`);
    if (section.text) parts.push(section.text);
    if (section.rows) parts.push(renderRows(section.rows));
    if (section.options) {
      // GNU style: long names line up when some options of the section have a one-letter alias.
      const aligned = section.options.some((o) => o.short !== undefined && o.short !== o.flag);
      parts.push(renderRows(section.options.map((o) => [`${aligned && !o.short ? '    ' : ''}${optionNames(o)}`, optionDetail(o)])));
    }
  }
  if (doc.examples.length > 0) parts.push('', 'Examples:', ...doc.examples.map((e) => `  ${e}`));
  parts.push('', ...wrapText(`Exit status: ${doc.exitStatus}`, LINE_WIDTH));
  return `${parts.join('\n')}\n`;
}

/** The same document as a man page (section 8 for the daemon and admin tools, as `man 8 flanneld`). */
export function renderManPage(doc: HelpDocument, section = 8, date = ''): string {
  const esc = (text: string) => text.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1').replace(/-/g, '\\-');
  const out = [
    `.TH ${doc.program.toUpperCase()} ${section} "${date}" "${doc.program} v${doc.version}" "flannel-ts"`,
    '.SH NAME',
    `${doc.program} \\- ${esc(doc.summary)}`,
    '.SH SYNOPSIS',
    ...doc.usage.flatMap((u) => ['.B', esc(u), '.br']),
  ];
  if (doc.description) out.push('.SH DESCRIPTION', esc(doc.description));
  for (const section of doc.sections) {
    out.push(`.SH ${esc(section.title.toUpperCase())}`);
    if (section.text) out.push('.nf', esc(section.text), '.fi');
    for (const [left, right] of section.rows ?? []) out.push('.TP', `.B ${esc(left)}`, esc(right));
    for (const option of section.options ?? []) out.push('.TP', `.B ${esc(optionNames(option))}`, esc(optionDetail(option)));
  }
  if (doc.examples.length > 0) out.push('.SH EXAMPLES', '.nf', ...doc.examples.map(esc), '.fi');
  out.push('.SH EXIT STATUS', esc(doc.exitStatus));
  return `${out.join('\n')}\n`;
}

/** What `--version` prints: `<tool> v<version>`. */
export function versionLine(program: string, version: string): string {
  return `${program} v${version}`;
}

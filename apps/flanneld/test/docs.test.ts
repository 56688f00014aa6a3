/**
 * README.md says what the binary does: its flag table is the one --help is generated from, and each transcript of
 * a command that needs no etcd (`$ command` followed by its output) is run as written and prints exactly that.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { flagTable } from '../src/help.js';

const exec = promisify(execFile);
const README = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const BIN_DIR = fileURLToPath(new URL('../../../bin', import.meta.url));

interface Transcript {
  readonly command: string;
  readonly output: string;
}

/** `$ ` lines and the output under each, from the untagged code blocks that hold no log lines (timestamps). */
function transcripts(markdown: string): Transcript[] {
  const blocks: string[] = [];
  let open: { tag: string; lines: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    const fence = /^\s*```(\w*)\s*$/.exec(line);
    if (!fence) {
      open?.lines.push(line);
      continue;
    }
    if (open) {
      if (open.tag === '') blocks.push(open.lines.join('\n'));
      open = undefined;
    } else open = { tag: fence[1]!, lines: [] };
  }
  const out: Transcript[] = [];
  for (const block of blocks) {
    if (!block.startsWith('$ ') || /^\d{4}-\d\d-\d\dT/m.test(block)) continue;
    for (const part of block.split(/^(?=\$ )/m)) {
      const [first, ...rest] = part.split('\n');
      out.push({ command: first!.slice(2), output: rest.join('\n').trim() });
    }
  }
  return out;
}

describe('apps/flanneld/README.md', () => {
  it('has the flag table --help is generated from', () => {
    expect(README).toContain(flagTable());
  });

  const runs = transcripts(README);
  it('has transcripts to check', () => {
    expect(runs.length).toBeGreaterThanOrEqual(3);
  });

  for (const { command, output } of runs) {
    it(`$ ${command}`, async () => {
      // As an operator types it, with bin/ on PATH and no FLANNELD_* from the test environment.
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLANNELD_')));
      const result = await exec('bash', ['-c', `${command} 2>&1`], { env: { ...env, PATH: `${BIN_DIR}:${process.env['PATH']}` } }).catch((err: { stdout: string }) => err);
      expect(result.stdout.trim()).toBe(output);
    });
  }
});

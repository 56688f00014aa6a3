/**
 * host-net is the only way to the kernel: no source file elsewhere (packages/lab and packages/testkit are test
 * tooling and may) starts `ip`, `bridge`, `iptables`, `nft` or their kin. A file that uses node:child_process
 * must not name one of these programs in a string literal (a spawn argument, a helper's `run('ip', ...)`, a
 * `sh -c 'ip ...'` line); the literals are found with TypeScript's parser, so a message that merely mentions
 * "bridge" inside a longer text does not count.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const KERNEL_TOOLS = ['ip', 'bridge', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save', 'iptables-restore', 'ip6tables-restore', 'iptables-legacy', 'iptables-nft', 'nft', 'tc', 'sysctl'];
const TOOL_LITERAL = new RegExp(`^(sudo\\s+)?(${KERNEL_TOOLS.map((t) => t.replace(/[-]/g, '\\-')).join('|')})(\\s|$)`);
/** Test tooling, and host-net itself. */
const ALLOWED = new Set(['packages/host-net', 'packages/lab', 'packages/testkit']);

const root = join(new URL('.', import.meta.url).pathname, '../../..');

/** The string literals of a source file that start a kernel tool, when the file can start processes at all. */
export function kernelToolLiterals(fileName: string, text: string): string[] {
  if (!text.includes('child_process')) return [];
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && TOOL_LITERAL.test(node.text)) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${fileName}:${line + 1}: ${JSON.stringify(node.text)}`);
    }
    // The head of a template (`ip ${args}`) starts a command line as well.
    if (ts.isTemplateExpression(node) && TOOL_LITERAL.test(node.head.text)) {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      found.push(`${fileName}:${line + 1}: ${JSON.stringify(node.head.text)}...`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function workspaceSources(): string[] {
  return ['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group))
      .filter((name) => !ALLOWED.has(`${group}/${name}`))
      .flatMap((name) => {
        const src = join(root, group, name, 'src');
        try {
          return statSync(src).isDirectory() ? sourceFiles(src) : [];
        } catch {
          return [];
        }
      }),
  );
}

describe('kernel access outside host-net', () => {
  it('finds a spawned kernel tool however it is written', () => {
    expect(kernelToolLiterals('a.ts', "import { spawn } from 'node:child_process';\nspawn('ip', ['-o', 'monitor']);")).toEqual(['a.ts:2: "ip"']);
    expect(kernelToolLiterals('b.ts', "import { execFile } from 'node:child_process';\nconst run = promisify(execFile);\nawait run(`iptables`, ['--version']);")).toHaveLength(1);
    expect(kernelToolLiterals('c.ts', "const { execFile } = await import('node:child_process');\nexecFile(family === 4 ? 'iptables' : 'ip6tables', []);")).toHaveLength(2);
    expect(kernelToolLiterals('d.ts', "import { spawn } from 'node:child_process';\nspawn('sh', ['-c', `nft list table ${t}`]);")).toEqual(['d.ts:2: "nft list table "...']);
  });

  it('leaves alone files that cannot start processes, and words inside longer text', () => {
    expect(kernelToolLiterals('e.ts', "const fix = 'ip link set flannel.1 up';")).toEqual([]);
    expect(kernelToolLiterals('f.ts', "import { spawn } from 'node:child_process';\nthrow new Error(`give a name such as \"bridge\" (plugins are looked up in CNI_PATH)`);")).toEqual([]);
  });

  it('holds for every source file of the workspace', () => {
    const files = workspaceSources();
    // The scan reads the tree it guards (not an empty list): flanneld's composition root is among the files.
    expect(files.map((f) => relative(root, f))).toContain('apps/flanneld/src/daemon.ts');
    const found = files.flatMap((file) => kernelToolLiterals(relative(root, file), readFileSync(file, 'utf8')));
    expect(found, 'start these through @flannel-ts/host-net (HostNetwork, the firewall, or its CommandRunner)').toEqual([]);
  });
});

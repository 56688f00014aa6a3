import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const RESULTS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

export interface BenchReport {
  readonly name: string;
  readonly title: string;
  /** Markdown table rows: [metric, ours, baseline, ratio, note]. */
  readonly rows: ReadonlyArray<readonly [string, string, string, string, string]>;
  readonly raw: unknown;
}

/**
 * Writes bench/results/<name>.json and replaces this benchmark's section in BENCHMARKS.md, so the file always
 * shows the latest run of every benchmark with the machine it ran on.
 */
export async function saveReport(report: BenchReport): Promise<void> {
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
  const when = new Date().toISOString();
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeFile(`${RESULTS_DIR}${report.name}.json`, `${JSON.stringify({ name: report.name, when, machine, raw: report.raw }, null, 2)}\n`);

  const section = [
    `<!-- bench:${report.name}:start -->`,
    `## ${report.title}`,
    '',
    `Run ${when} on ${machine}. Command: \`pnpm bench\` (raw numbers: \`bench/results/${report.name}.json\`).`,
    '',
    '| metric | ours | baseline (same run) | ratio | note |',
    '| --- | --- | --- | --- | --- |',
    ...report.rows.map((row) => `| ${row.join(' | ')} |`),
    `<!-- bench:${report.name}:end -->`,
  ].join('\n');
  let text = await readFile(RESULTS_MD, 'utf8').catch(() => '# Benchmark results\n\nEach figure is set against a baseline measured in the same run on the same machine, since the machines are noisy.\n');
  const pattern = new RegExp(`<!-- bench:${report.name}:start -->[\\s\\S]*?<!-- bench:${report.name}:end -->`);
  text = pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`;
  await writeFile(RESULTS_MD, text);
  process.stdout.write(`\n${section}\n`);
}

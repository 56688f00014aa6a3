#!/usr/bin/env node
/** flannel (the CNI plugin): the only place that touches process.*; everything else is runPlugin with injected io. */
import { runPlugin } from './cli.js';

async function readStdin(): Promise<string> {
  // An operator running the plugin by hand must not be left waiting on a terminal.
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// No top-level await: the bundle is CommonJS, which Node loads faster than an ES module, and the installed copy
// (an extensionless file in /opt/cni/bin, no package.json) is then parsed once, not tried as CommonJS first.
void runPlugin(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readStdin,
  // The script being run: dist/flannel.cjs, or the installed copy.
  executable: process.argv[1] ?? '',
  nodePath: process.execPath,
}).then((code) => {
  process.exitCode = code;
});

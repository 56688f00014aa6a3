#!/usr/bin/env node
/** flannel (the CNI plugin): the only place that touches process.*; everything else is runPlugin with injected io. */
import { fileURLToPath } from 'node:url';
import { runPlugin } from './cli.js';

async function readStdin(): Promise<string> {
  // An operator running the plugin by hand must not be left waiting on a terminal.
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

process.exitCode = await runPlugin(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  readStdin,
  executable: fileURLToPath(import.meta.url),
  nodePath: process.execPath,
});

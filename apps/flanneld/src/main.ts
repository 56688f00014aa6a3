#!/usr/bin/env node
import { runCli } from './cli.js';

const controller = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    // A second signal while shutting down ends the process at once.
    if (controller.signal.aborted) process.exit(1);
    controller.abort();
  });
}

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }, { signal: controller.signal });

#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { runCli } from './cli.js';

/** After SIGTERM/SIGINT the daemon stops its loops and returns; anything slower than this is a bug, not a reason to ignore the signal. */
const SHUTDOWN_GRACE_MS = 1000;

const controller = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    // A second signal while shutting down ends the process at once.
    if (controller.signal.aborted) process.exit(1);
    controller.abort();
    setTimeout(() => {
      process.stderr.write(`flanneld: shutdown did not finish within ${SHUTDOWN_GRACE_MS / 1000} s of ${signal}: exiting anyway\n`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
  });
}

/**
 * V8's heap kept near flanneld's live data, so resident memory follows live data, not event bursts such as lease
 * churn: the young generation stays at the size start-up gave it (V8 would grow it to 16 MiB x 2 under a burst),
 * and the old one grows by half its live size, not by up to 4x, before a full collection. Set at run time rather
 * than as node flags on the #! line: any V8 flag given at start makes node compile its own built-in modules afresh
 * (its embedded code cache is keyed by the flags), about 15% more for `flanneld --version`.
 */
const tuneHeap = () => {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString('--heap-growing-percent=50');
};

const routeProcessWarnings = (sink: (warning: Error) => void) => {
  // Node's default listener prints each warning to stderr; the sink logs it instead.
  process.removeAllListeners('warning');
  process.on('warning', sink);
};

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, routeProcessWarnings, tuneHeap }, { signal: controller.signal });
// Stopped by a signal and shut down: exit now, whatever a library still has pending (grpc closes its channels lazily).
if (controller.signal.aborted) process.exit();

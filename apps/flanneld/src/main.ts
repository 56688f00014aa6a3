#!/usr/bin/env -S node --max-semi-space-size=2 --heap-growing-percent=50
// The flags keep V8's heap near flanneld's live data (a small young generation; the old one grows by half, not
// V8's default up to 4x, before a full collection), so resident memory follows live data, not event bursts such as
// lease churn. bin/flanneld runs this file, so the flags live only here.
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

const routeProcessWarnings = (sink: (warning: Error) => void) => {
  // Node's default listener prints each warning to stderr; the sink logs it instead.
  process.removeAllListeners('warning');
  process.on('warning', sink);
};

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, routeProcessWarnings }, { signal: controller.signal });
// Stopped by a signal and shut down: exit now, whatever a library still has pending (grpc closes its channels lazily).
if (controller.signal.aborted) process.exit();

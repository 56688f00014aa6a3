#!/usr/bin/env node
/** flannelctl: the only place that touches process.*; everything else is runCli with injected streams. */
import { runCli } from './cli.js';

// grpc-js sets the TLS server name for https://<IP> endpoints, which makes Node print a deprecation warning
// (DEP0123) on every run; stderr is for flannelctl's own messages, so warnings go to its logger (at debug level).
const routeProcessWarnings = (sink: (warning: Error) => void) => {
  process.removeAllListeners('warning');
  process.on('warning', sink);
};

// `leases watch` stops on SIGINT/SIGTERM and exits 0; other commands report the interruption (exit 130).
const controller = new AbortController();
const stop = () => controller.abort();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signal: controller.signal,
  routeProcessWarnings,
});
process.off('SIGINT', stop);
process.off('SIGTERM', stop);
// Whatever an interrupted command left pending (a probe, an etcd retry) must not keep the process alive.
if (controller.signal.aborted) process.exit();

#!/usr/bin/env node
/** flannelctl: the only place that touches process.*; everything else is runCli with injected streams. */
import { runCli } from './cli.js';

// grpc-js sets the TLS server name for https://<IP> endpoints, which makes Node print a deprecation warning
// (DEP0123) on every run; stderr is for flannelctl's own messages.
process.noDeprecation = true;

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});

#!/usr/bin/env node
/** flannel-docker-setup: the only place that touches process.*; everything else is runCli with injected streams. */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });

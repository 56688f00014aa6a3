/**
 * Writes `<dist>/etcd3.cjs.cache`, the V8 code cache an app's bundled etcd3 loads with (cached-require.cjs), after a
 * build. The cache is made by a node started with the app's own flags (read from the `#!` line of its main.js; V8
 * rejects a cache made under other flags) that loads etcd3, makes a client and sends one request to a closed
 * local port, so the code a start-up runs (client set-up, grpc channel, a unary call) is compiled and cached.
 *
 *   node scripts/write-code-cache.mjs apps/flanneld/dist          # after tsup (the preset's onSuccess runs it)
 *   node scripts/write-code-cache.mjs --check apps/flanneld/dist  # prints used / rejected / none
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const [mode, dir] = process.argv[2]?.startsWith('--') ? [process.argv[2], process.argv[3]] : ['--write', process.argv[2]];
if (!dir) {
  process.stderr.write('usage: write-code-cache.mjs [--check] <app dist dir>\n');
  process.exit(2);
}
const dist = resolve(dir);
const etcd3 = join(dist, 'etcd3.cjs');

/** Node's flags on the app's `#!` line (`#!/usr/bin/env -S node --a --b` -> ['--a', '--b']). */
function appNodeFlags() {
  const first = readFileSync(join(dist, 'main.js'), 'utf8').split('\n', 1)[0] ?? '';
  const match = /^#!\S*env(?: -S)? node((?: \S+)*)\s*$/.exec(first);
  return match ? match[1].trim().split(/\s+/).filter(Boolean) : [];
}

if (mode === '--write' || mode === '--check') {
  if (!existsSync(etcd3)) process.exit(0);
  if (mode === '--write') rmSync(`${etcd3}.cache`, { force: true });
  const child = spawnSync(process.execPath, [...appNodeFlags(), fileURLToPath(import.meta.url), mode === '--write' ? '--produce' : '--report', dist], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 30_000 });
  if (child.status !== 0) {
    process.stderr.write(`write-code-cache: making the code cache for ${etcd3} failed (exit ${child.status ?? child.signal})\n`);
    process.exit(1);
  }
  process.stdout.write(child.stdout);
} else if (mode === '--produce') {
  const loaded = require(join(dist, 'cached-require.cjs')).loadCached(etcd3);
  const client = new loaded.exports.Etcd3({ hosts: 'http://127.0.0.1:9', dialTimeout: 200 });
  await Promise.race([client.get('code-cache').string().catch(() => undefined), new Promise((r) => setTimeout(r, 1500))]);
  client.close();
  writeFileSync(`${etcd3}.cache`, loaded.script.createCachedData());
  process.stdout.write(`write-code-cache: ${etcd3}.cache\n`);
  process.exit(0);
} else if (mode === '--report') {
  process.stdout.write(`${require(join(dist, 'cached-require.cjs')).loadCached(etcd3).cache}\n`);
} else {
  process.stderr.write(`write-code-cache: unknown mode ${mode}\n`);
  process.exit(2);
}

#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the lint step and every test suite: unit tests, real-etcd tests, and
# network-namespace tests.
# Ends with one summary line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
NO_COLOR=1 pnpm test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# Sum vitest's per-package "Tests  N passed | M failed (T)" lines, and the lint step (pnpm test runs it before the
# tests): one passed check when clean, one failed check per problem ESLint reports ("✖ N problems").
node -e '
  const text = require("fs").readFileSync(process.argv[1], "utf8");
  let passed = 0, failed = 0, files = 0;
  for (const line of text.split("\n")) {
    if (/^lint: no problems$/.test(line)) { files++; passed++; continue; }
    const lint = /✖ (\d+) problems? \(/.exec(line);
    if (lint) { files++; failed += Number(lint[1]); continue; }
    const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
    if (!m) continue;
    files++;
    passed += Number((/(\d+) passed/.exec(m[1]) || [0, 0])[1]);
    failed += Number((/(\d+) failed/.exec(m[1]) || [0, 0])[1]);
  }
  if (files === 0) { console.log("no test summary found"); process.exit(1); }
  console.log(`${passed} passed, ${failed} failed`);
' "$log" || status=1
exit "$status"

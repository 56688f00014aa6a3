#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs the demo: a two-host flannel network in network namespaces, a container on
# each host, and a ping between them over the overlay. Arguments go to the demo (e.g. --backend udp, --help).
set -euo pipefail
cd "$(dirname "$0")/.."
# --help is answered before anything is installed or built.
for arg in "$@"; do
  case "$arg" in
    -h|--help) cat packages/lab/usage/demo.txt; exit 0 ;;
    --) break ;;
  esac
done
bash scripts/setup.sh
exec pnpm --silent --filter @flannel-ts/lab run demo "$@"

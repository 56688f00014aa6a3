#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (run as root): system packages, pnpm,
# the workspace's dependencies, and a build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (tests create network namespaces and install packages)" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# System packages: etcd for the store, iproute2/iptables/nftables for the data path, iperf3/socat for benchmarks,
# docker.io and busybox-static for the Docker end-to-end test and demo (no Docker service is started here),
# containernetworking-plugins (bridge, host-local in /usr/lib/cni) and podman for the CNI plugin's tests.
need=()
for pkg in etcd-server etcd-client iproute2 iptables nftables iputils-ping iperf3 socat util-linux docker.io busybox-static containernetworking-plugins podman; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

want_pnpm=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want_pnpm" ]; then
  echo "setup.sh: installing pnpm $want_pnpm"
  npm install -g "pnpm@$want_pnpm" --silent >/dev/null
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm build

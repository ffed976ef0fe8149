#!/usr/bin/env bash
# Benchmarks of warren against the build in $BUILD, with bwrap and podman (crun) side by side on
# the same machine in the same run. Prints figures (median, p99), never fails on time.
# `make bench` installs bubblewrap, podman, crun and hyperfine first. Needs root.
#   WARREN_BENCH_N=100 (runs per figure), WARREN_BENCH_IDLE=20 (idle sandboxes for memory)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD";; esac
export BUILD
if [ "$(id -u)" != 0 ]; then echo "bench: needs root (it starts warrend)" >&2; exit 1; fi
if [ ! -x "$BUILD/src/warrend/warrend" ]; then echo "bench: build first ($BUILD/src/warrend/warrend)" >&2; exit 1; fi
if [ ! -f tests/sdk/node_modules/.package-lock.json ] ||
   [ tests/sdk/package-lock.json -nt tests/sdk/node_modules/.package-lock.json ]; then
	(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)
fi
for t in bwrap podman crun; do command -v "$t" >/dev/null || echo "bench: $t not installed; its row is skipped (make bench installs it)" >&2; done
echo "# $(uname -r), $(nproc) CPUs, $(date -u +%FT%TZ), warren $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
node bench/bench.mjs
node bench/files.mjs
node bench/disk.mjs
node bench/pty.mjs
node bench/watch.mjs
node bench/pause.mjs
node bench/observe.mjs
exec node bench/ssh.mjs

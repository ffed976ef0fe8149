#!/bin/sh
# Short fuzzing run for CI: tests/fuzz/run.sh [seconds per target, default 30].
exec "$(dirname "$0")/build.sh" "${1:-30}"

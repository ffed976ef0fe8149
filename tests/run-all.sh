#!/usr/bin/env bash
# Runs every suite against the build in $BUILD and prints "total: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
pass=0; fail=0
count() { pass=$((pass + $1)); fail=$((fail + $2)); }

# Unit tests (cmocka, via meson).
out=$(meson test -C "$BUILD" --suite unit --print-errorlogs 2>&1); echo "$out" | tail -20
ok=$(echo "$out" | sed -nE 's/^Ok: +([0-9]+).*/\1/p'); ko=$(echo "$out" | sed -nE 's/^Fail: +([0-9]+).*/\1/p')
count "${ok:-0}" "${ko:-1}"

echo "total: $pass passed, $fail failed"
[ "$fail" = 0 ]

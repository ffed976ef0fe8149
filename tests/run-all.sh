#!/usr/bin/env bash
# Runs every suite against the build in $BUILD and prints "total: N passed, N failed".
#   unit:        cmocka programs through meson
#   sdk:         the official npm `e2b` against a real warrend (tests/sdk/*.test.mjs)
#   integration: raw HTTP against a real warrend: bad input, restart (tests/integration/*.test.mjs)
#   cli:         the `warren` CLI against a real warrend, terminals inside tmux (tests/cli/*.test.mjs)
# Each node suite starts its own warrend on a free port with its own state dir, bridge, subnet and
# cgroup parent, and removes them at the end. Needs root. WARREN_SUITES="unit sdk" picks suites;
# WARREN_TESTS="quickstart commands" picks test files by name.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
export BUILD
SUITES=${WARREN_SUITES:-unit sdk integration cli}
pass=0; fail=0
count() { pass=$((pass + $1)); fail=$((fail + $2)); }
has() { case " $SUITES " in *" $1 "*) return 0;; esac; return 1; }

if has unit; then
	# Unit tests (cmocka, via meson).
	out=$(meson test -C "$BUILD" --suite unit --print-errorlogs 2>&1); echo "$out" | tail -20
	# A timed-out test, or one that passed where it should fail, is a failure too.
	ok=$(echo "$out" | sed -nE 's/^Ok: +([0-9]+).*/\1/p')
	ko=$(echo "$out" | sed -nE 's/^(Fail|Timeout|Unexpected Pass): +([0-9]+).*/\2/p' | awk '{s += $1} END {print NR ? s : ""}')
	count "${ok:-0}" "${ko:-1}"
fi

# Installs tests/sdk/node_modules from the lock file when missing or older than the lock file.
sdk_deps() {
	local d=tests/sdk
	if [ ! -f "$d/node_modules/.package-lock.json" ] || [ "$d/package-lock.json" -nt "$d/node_modules/.package-lock.json" ]; then
		echo "# npm ci in $d"
		(cd "$d" && npm ci --no-audit --no-fund --loglevel=error) || return 1
	fi
}

# Runs one directory's *.test.mjs files with node's test runner (TAP), one file at a time since
# each starts its own warrend and some measure timing; adds its "# pass"/"# fail" counts.
node_suite() {
	local name=$1 dir=$2 files=() f
	for f in "$dir"/*.test.mjs; do
		[ -e "$f" ] || continue
		if [ -n "${WARREN_TESTS:-}" ]; then
			case " $WARREN_TESTS " in *" $(basename "$f" .test.mjs) "*) ;; *) continue;; esac
		fi
		files+=("$f")
	done
	[ "${#files[@]}" -gt 0 ] || return 0
	local log; log=$(mktemp)
	echo "== $name: ${files[*]}"
	# Bounded: every suite stops by itself, the outer timeout is the last resort.
	timeout -k 10 "${WARREN_SUITE_TIMEOUT:-900}" \
		node --test --test-reporter=tap --test-concurrency=1 "${files[@]}" 2>&1 | tee "$log" |
		grep -E '^ *(ok|not ok) |^# (tests|pass|fail|cancelled|skipped|duration_ms) |^# #'
	local p ko c
	p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -1)
	ko=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -1)
	c=$(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$log" | tail -1)
	if [ -z "$p" ]; then
		echo "$name: the test runner printed no summary" >&2; tail -30 "$log" >&2
		count 0 1
	else
		if [ "${ko:-0}" != 0 ] || [ "${c:-0}" != 0 ]; then
			echo "---- $name failures (full log: $log)"
			# The failing tests with their diagnostics.
			awk '/^ *not ok /{show=1} /^ *ok /{show=0} show' "$log" | head -200
		else
			rm -f "$log"
		fi
		count "$p" "$(( ${ko:-0} + ${c:-0} ))"
	fi
}

if has sdk || has integration || has cli; then
	if [ "$(id -u)" != 0 ]; then
		echo "sdk/integration suites need root (they start warrend)" >&2
		count 0 1
	elif [ ! -x "$BUILD/src/warrend/warrend" ]; then
		echo "no $BUILD/src/warrend/warrend: build first" >&2
		count 0 1
	elif ! sdk_deps; then
		echo "npm ci failed in tests/sdk" >&2
		count 0 1
	else
		export WARREN_TEST_LOG_DIR=${WARREN_TEST_LOG_DIR:-$(mktemp -d /tmp/warren-test-logs.XXXXXX)}
		# The node suites resolve BUILD relative to the repository root.
		case $BUILD in /*) ;; *) export BUILD="$ROOT/$BUILD";; esac
		has sdk && node_suite sdk tests/sdk
		has integration && node_suite integration tests/integration
		# The warren CLI (tests/cli): terminals driven inside tmux, exec/list/kill.
		if has cli; then
			if [ -x "$BUILD/src/warren/warren" ] && command -v tmux >/dev/null; then
				node_suite cli tests/cli
			else
				echo "cli suite: no $BUILD/src/warren/warren or no tmux" >&2; count 0 1
			fi
		fi
		echo "# warrend logs: $WARREN_TEST_LOG_DIR"
	fi
fi

# libwarren (C) against its own warrend: tests/integration/test-libwarren.c, TAP.
if has integration && [ "$(id -u)" = 0 ]; then
	if [ -x "$BUILD/tests/integration/test-libwarren" ]; then
		echo "== integration-c: test-libwarren"
		out=$(timeout -k 10 600 "$BUILD/tests/integration/test-libwarren" 2>&1)
		echo "$out" | grep -E '^not ok |^# '
		p=$(echo "$out" | sed -nE 's/^# libwarren: ([0-9]+) passed, ([0-9]+) failed$/\1/p')
		ko=$(echo "$out" | sed -nE 's/^# libwarren: ([0-9]+) passed, ([0-9]+) failed$/\2/p')
		if [ -z "$p" ]; then echo "$out" | tail -20; count 0 1; else count "$p" "$ko"; fi
	else
		echo "no $BUILD/tests/integration/test-libwarren (libcurl missing?)" >&2
		count 0 1
	fi
fi

echo "total: $pass passed, $fail failed"
[ "$fail" = 0 ]

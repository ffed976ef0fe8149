#!/bin/sh
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined) and runs each for
# a time budget: tests/fuzz/build.sh [seconds per target, default 30] [build dir].
# A crash leaves its reproducer in the build dir and makes this script fail.
set -eu
secs=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-$root/build-fuzz}
mkdir -p "$out"
CC=${CC:-clang}
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=gnu11 -I$root/lib -I$root/include -pthread"
common="$root/lib/common/http.c $root/lib/common/http_forward.c $root/lib/common/buf.c $root/lib/common/error.c"

$CC $flags -o "$out/fuzz-http" "$here/fuzz-http.c" $common -lhttp_parser
$CC $flags -I"$root/src/agent" -o "$out/fuzz-multipart" "$here/fuzz-multipart.c" "$root/src/agent/multipart.c"
$CC $flags -I"$root/src/agent" -o "$out/fuzz-fspath" "$here/fuzz-fspath.c" "$root/src/agent/fsops.c" \
	"$root/src/agent/users.c" "$root/lib/common/util.c" "$root/lib/common/b64.c" \
	"$root/lib/common/buf.c" -ljansson
$CC $flags -I"$root/src/warrend" -o "$out/fuzz-logs" "$here/fuzz-logs.c" "$root/src/warrend/logs.c" \
	"$root/lib/common/buf.c"
$CC $flags -I"$root/src/warrend" -o "$out/fuzz-network" "$here/fuzz-network.c" \
	"$root/src/warrend/api_network.c" "$root/lib/common/error.c" -ljansson
$CC $flags -o "$out/fuzz-ws" "$here/fuzz-ws.c" "$root/lib/ws/ws.c" "$root/lib/common/buf.c" \
	"$root/lib/common/b64.c" "$root/lib/common/error.c" "$root/lib/common/util.c" -lhttp_parser -lcrypto

for t in fuzz-http fuzz-multipart fuzz-fspath fuzz-logs fuzz-network fuzz-ws; do
	corpus="$out/$t-corpus"
	mkdir -p "$corpus"
	cp "$here/corpus/$t"/* "$corpus/" 2>/dev/null || true
	echo "fuzzing $t for ${secs}s"
	(cd "$out" && "./$t" -max_total_time="$secs" -max_len=16384 -timeout=20 -rss_limit_mb=2048 "$corpus")
done

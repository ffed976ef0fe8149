#!/usr/bin/env bash
# Installs CRIU for pause/resume (docs/PERSISTENCE.md) into a private directory, leaving the
# system's packages and apt sources alone. Bookworm's criu 3.17 cannot checkpoint on current
# kernels (vDSO layout) and criu 4.1 fails on every TCP socket since Linux 6.16 (SO_PASSCRED), so
# this fetches Debian forky's criu 4.2 with the shared libraries it needs, from deb.debian.org
# through apt (which checks the Release signature against debian-archive-keyring and every
# package's hash), unpacks them with dpkg-deb and runs criu through forky's own loader:
#   <dir>/usr/lib64/ld-linux-x86-64.so.2 --library-path <dir>/usr/lib/x86_64-linux-gnu \
#       <dir>/usr/sbin/criu ...          (<dir>/criu is a wrapper that does exactly that)
# Then it checks `criu --version` and `criu check`. Idempotent: a working install is kept.
#   WARREN_CRIU_DIR   where to install (default /var/lib/warren/criu, warrend's --criu default)
#   WARREN_CRIU_SUITE Debian suite to take it from (default forky)
set -euo pipefail
dir=${WARREN_CRIU_DIR:-/var/lib/warren/criu}
suite=${WARREN_CRIU_SUITE:-forky}
want=4.2 # at least: 4.1 cannot dump TCP sockets on Linux >= 6.16

run_criu() { "$dir/usr/lib64/ld-linux-x86-64.so.2" --library-path "$dir/usr/lib/x86_64-linux-gnu" "$dir/usr/sbin/criu" "$@"; }
installed_ok() {
	[ -x "$dir/usr/sbin/criu" ] && [ -e "$dir/usr/lib64/ld-linux-x86-64.so.2" ] || return 1
	local v; v=$(run_criu --version 2>/dev/null | sed -n 's/^Version: //p')
	[ -n "$v" ] && [ "$(printf '%s\n%s\n' "$want" "$v" | sort -V | head -1)" = "$want" ]
}

if installed_ok && run_criu check >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "criu.sh: needs root" >&2; exit 1; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "criu.sh: needs apt-get and dpkg-deb" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || { echo "criu.sh: $keyring missing (package debian-archive-keyring)" >&2; exit 1; }

work=$(mktemp -d /tmp/warren-criu.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"   # apt's download user (_apt) writes here
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" >"$work/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
	-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64" -o "Debug::NoLocking=1" -o "Dir::State::Status=/dev/null"
	-o "APT::Sandbox::User=root")
echo "criu.sh: fetching criu and its libraries from Debian $suite into $dir"
apt-get "${apt_opts[@]}" -qq update
# criu's whole dependency closure (gcc-*-base carries only docs).
mapfile -t pkgs < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances criu | grep -v '^ ' | grep -v '<' |
	grep -v '^gcc-.*-base$' | sort -u)
[ "${#pkgs[@]}" -gt 3 ] || { echo "criu.sh: cannot resolve criu's dependencies" >&2; exit 1; }
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${pkgs[@]}")
for f in "$work"/debs/*.deb; do dpkg-deb -x "$f" "$work/root"; done

new="$dir.new.$$"
rm -rf "$new"
mkdir -p "$(dirname "$dir")"
mv "$work/root" "$new"
cat >"$new/criu" <<EOW
#!/bin/sh
# CRIU from Debian $suite, run with its own loader and libraries (scripts/criu.sh).
d=\$(dirname "\$(readlink -f "\$0")")
exec "\$d/usr/lib64/ld-linux-x86-64.so.2" --library-path "\$d/usr/lib/x86_64-linux-gnu" "\$d/usr/sbin/criu" "\$@"
EOW
chmod 755 "$new/criu"
rm -rf "$dir.old"
[ -e "$dir" ] && mv "$dir" "$dir.old"
mv "$new" "$dir"
rm -rf "$dir.old"
installed_ok || { echo "criu.sh: installed criu is older than $want" >&2; exit 1; }
run_criu --version | head -1
if ! run_criu check; then
	echo "criu.sh: 'criu check' fails on this kernel: pause/resume will not work" >&2
	exit 1
fi

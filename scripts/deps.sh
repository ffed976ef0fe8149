#!/usr/bin/env bash
# Installs the Debian packages warren needs to build, run and test, only the missing ones.
set -euo pipefail
pkgs=(build-essential pkg-config meson ninja-build clang clang-format libclang-rt-14-dev
      libhttp-parser-dev libjansson-dev libsqlite3-dev libseccomp-dev libcap-dev
      libmnl-dev libnftables-dev libcurl4-openssl-dev libcmocka-dev libssl-dev nettle-dev zlib1g-dev
      nftables iproute2 e2fsprogs nodejs npm tmux curl procps psmisc
      openssh-server openssh-client
      sqlite3)  # sqlite3: tests look into the store (metrics rows of a killed sandbox)
if [ "${WARREN_BENCH_DEPS:-0}" = 1 ]; then pkgs+=(bubblewrap podman crun hyperfine); fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from elsewhere on a developer machine; accept them when present.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then echo "deps: need root to install: ${missing[*]}" >&2; exit 1; fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# CRIU for pause/resume, in a private directory (see the script).
"$(dirname "$0")/criu.sh"

#!/bin/sh
# Install what libpss needs to build and test, from Debian's packages.
# As root: runs apt-get for whatever is missing.  Otherwise: prints the
# exact apt-get line and fails if anything is missing.
# Usage: scripts/deps.sh [build] [test]
set -eu
build="gcc g++ make pkgconf libcmocka-dev libelf-dev libdw-dev libzstd-dev clang libclang-rt-14-dev"
test="gdb elfutils binutils python3 procps lldb zstd valgrind
	redis-server redis-tools nginx wrk postgresql postgresql-contrib postgresql-client util-linux"
want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $build" ;;
	test) want="$want $test" ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 64 ;;
	esac
done
missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || true
	apt-get install -y -qq --no-install-recommends $missing >&2
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi

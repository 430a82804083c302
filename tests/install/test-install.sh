#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The install tree is enough for an outside program: `make install
# DESTDIR=$tmp PREFIX=/usr` from the source tree (copying what `make` built,
# never building), then an example program compiled and linked with nothing
# but `pkg-config --cflags --libs libpss` (PKG_CONFIG_SYSROOT_DIR maps the
# .pc's /usr to the staging tree, as a distribution's packaging does), run
# against the installed library.  Also checks the rest of the tree (headers,
# soname, static library, pss, man pages, the .pc) and that the shared
# library exports exactly the version script's PSS_1.0 functions.
#
#   tests/install/test-install.sh [BUILD_DIR]     (default: $PSS_TEST_BUILD, else build)
# Prints TAP lines.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${PSS_TEST_BUILD:-$src/build}}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "not ok 1 - no build directory"; exit 1; }
map=$src/src/libpss.map
n=0
fails=0

tap() {		# tap STATUS(0 = ok) DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}

note() { sed 's/^/# /'; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pss-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
lib=$root/usr/lib

# We may run under `make check`: its MAKEFLAGS (BUILD=, -j jobserver) must not
# leak into this make.
out=$(cd "$src" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	make -s install DESTDIR="$root" PREFIX=/usr BUILD="$build" 2>&1)
rc=$?
tap $rc "make install DESTDIR=... PREFIX=/usr"
[ $rc -eq 0 ] || { echo "$out" | note; exit 1; }

# Install never builds: a dry run that takes every library, CLI and header
# source as just modified lists no compile, link or archive command.
what_if=
for f in "$src"/src/*.c "$src"/src/*/*.c "$src"/cli/*.c "$src"/include/pss/*.h "$src"/src/libpss.map; do
	what_if="$what_if -W ${f#"$src"/}"
done
dry=$(cd "$src" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	make -n install DESTDIR="$root" PREFIX=/usr BUILD="$build" $what_if 2>&1)
rc=$?
builds=$(echo "$dry" | grep -E '\.(c|o)( |$)|ar rcs| -shared ' || true)
tap "$([ $rc -eq 0 ] && [ -n "$dry" ] && [ -z "$builds" ]; echo $?)" \
	"make install only copies (even with every source newer than the build)"
[ -z "$builds" ] || echo "$builds" | note

# ---- the tree ----
for h in win32.h processsnapshot.h pss-linux.h; do
	cmp -s "$root/usr/include/pss/$h" "$src/include/pss/$h"
	tap $? "header pss/$h installed"
done

soname=$(readelf -d "$lib/libpss.so.1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
tap "$([ "$soname" = libpss.so.1 ]; echo $?)" "libpss.so.1 has soname libpss.so.1 (got '${soname}')"
tap "$([ -L "$lib/libpss.so" ] && [ "$(readlink -f "$lib/libpss.so")" = \
	"$(readlink -f "$lib/libpss.so.1")" ] && [ -f "$lib/libpss.so.1" ]; echo $?)" \
	"libpss.so -> libpss.so.1 -> the library"

members=$(ar t "$lib/libpss.a" 2>/dev/null | grep -c '\.o$')
tap "$([ "${members:-0}" -gt 0 ] && nm "$lib/libpss.a" 2>/dev/null | grep -q ' T PssCaptureSnapshot$'; echo $?)" \
	"libpss.a installed ($members objects, defines PssCaptureSnapshot)"

tap "$([ -x "$root/usr/bin/pss" ] && "$root/usr/bin/pss" --help >/dev/null 2>&1; echo $?)" \
	"pss installed and runs (pss --help)"

pc=$lib/pkgconfig/libpss.pc
tap "$(grep -qx 'prefix=/usr' "$pc" && ! grep -q "$src" "$pc"; echo $?)" \
	"libpss.pc says prefix=/usr and names no build path"

# ---- man pages: one per exported function, all render cleanly ----
missing=
for f in $(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$map"); do
	[ -f "$root/usr/share/man/man3/$f.3" ] || missing="$missing $f"
done
tap "$([ -z "$missing" ]; echo $?)" "a section-3 man page for every function of the version script"
[ -z "$missing" ] || echo "missing:$missing" | note
tap "$([ -f "$root/usr/share/man/man1/pss.1" ]; echo $?)" "pss.1 installed"

if command -v man >/dev/null; then
	bad=
	for page in "$root"/usr/share/man/man[13]/*.[13]; do
		name=$(basename "$page"); sec=${name##*.}; name=${name%.*}
		w=$(MANWIDTH=80 man --warnings -M "$root/usr/share/man" "$sec" "$name" 2>&1 >/dev/null)
		txt=$(MANWIDTH=80 man -M "$root/usr/share/man" "$sec" "$name" 2>/dev/null | head -3)
		if [ -n "$w" ] || [ -z "$txt" ]; then
			bad="$bad $name($sec)"
			echo "$w" | note
		fi
	done
	tap "$([ -z "$bad" ]; echo $?)" "every installed man page renders without warnings (.so links resolve)"
	[ -z "$bad" ] || echo "bad:$bad" | note
else
	n=$((n + 1)); echo "ok $n - man pages render # SKIP man is not installed"
fi

# ---- exports: exactly the map's functions, all at PSS_1.0 ----
want=$(sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);$/\1/p' "$map" | sort)
# Defined (not UND) global or weak symbols of the dynamic table, except the
# version node's own ABS symbol.
syms=$(readelf --dyn-syms --wide "$lib/libpss.so.1" |
	awk '$5 == "GLOBAL" || $5 == "WEAK" { if ($7 != "UND" && !($4 == "OBJECT" && $7 == "ABS")) print $8 }')
unversioned=$(echo "$syms" | grep -v '@@PSS_1\.0$' || true)
tap "$([ -n "$syms" ] && [ -z "$unversioned" ]; echo $?)" "every exported symbol is name@@PSS_1.0"
[ -z "$unversioned" ] || echo "$unversioned" | note
got=$(echo "$syms" | sed 's/@@.*//' | sort)
diffs=$(diff <(echo "$want") <(echo "$got"))
tap "$([ -z "$diffs" ]; echo $?)" "exports are exactly the $(echo "$want" | wc -l) functions of src/libpss.map"
[ -z "$diffs" ] || echo "$diffs" | note

# ---- an outside program, built with pkg-config only ----
pkgconf() {
	PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_PATH= \
		pkg-config "$@" libpss
}
if ! command -v pkg-config >/dev/null; then
	n=$((n + 1)); echo "ok $n - outside program # SKIP pkg-config is not installed"
	exit 0
fi
flags=$(pkgconf --cflags --libs)
tap $? "pkg-config --cflags --libs libpss: $flags"
mod=$(pkgconf --modversion)
tap "$([ "$mod" = 1.0.0 ]; echo $?)" "pkg-config --modversion libpss is 1.0.0 (got '$mod')"

# The program is copied away from the source tree so that nothing but the
# flags can point the compiler at headers or libraries.
mkdir -p "$tmp/outside"
cp "$src/examples/walk-threads.c" "$tmp/outside/"
out=$(cd "$tmp/outside" && cc -std=c11 -Wall -Wextra -Werror walk-threads.c $flags -o walk-threads 2>&1)
rc=$?
tap $rc "walk-threads.c builds with \`cc \$(pkg-config --cflags --libs libpss)\`"
[ $rc -eq 0 ] || echo "$out" | note
# The compiler used the installed headers (and not, say, a system copy).
deps=$(cd "$tmp/outside" && cc -std=c11 -M walk-threads.c $(pkgconf --cflags) 2>/dev/null)
tap "$(echo "$deps" | grep -q "$root/usr/include/pss/processsnapshot.h"; echo $?)" \
	"the installed pss/processsnapshot.h was the one compiled"

if [ $rc -eq 0 ]; then
	resolved=$(LD_LIBRARY_PATH=$lib ldd "$tmp/outside/walk-threads" | awk '$1 == "libpss.so.1" { print $3 }')
	tap "$([ "$resolved" = "$lib/libpss.so.1" ]; echo $?)" "it loads the installed libpss.so.1 ($resolved)"
	out=$(LD_LIBRARY_PATH=$lib timeout 60 "$tmp/outside/walk-threads" --self-test 2>&1)
	rc=$?
	tap "$([ $rc -eq 0 ] && echo "$out" | grep -q '^ok 1 '; echo $?)" \
		"the outside walk-threads runs: captures its own threads with contexts"
	[ $rc -eq 0 ] || echo "$out" | note
fi

# The static library serves an outside program too.
cat >"$tmp/outside/static.c" <<'EOF'
#include <pss/pss-linux.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	HPSS snap = NULL;
	PSS_PROCESS_INFORMATION pi;
	DWORD err;

	err = PssCaptureSnapshot(GetCurrentProcess(), PSS_CAPTURE_NONE, 0, &snap);
	if (err == ERROR_SUCCESS)
		err = PssQuerySnapshot(snap, PSS_QUERY_PROCESS_INFORMATION, &pi, sizeof(pi));
	if (err != ERROR_SUCCESS) {
		printf("%s\n", pss_linux_error_message(err));
		return 1;
	}
	printf("%lu\n", (unsigned long)pi.ProcessId);
	return PssFreeSnapshot(GetCurrentProcess(), snap) != ERROR_SUCCESS ||
	       strncmp(pss_linux_error_message(ERROR_SUCCESS), "ERROR_SUCCESS", 13);
}
EOF
out=$(cd "$tmp/outside" && cc -std=c11 -Wall -Wextra -Werror static.c $(pkgconf --cflags) \
	-L"$lib" -Wl,-Bstatic -lpss -Wl,-Bdynamic $(pkgconf --static --libs-only-other --libs-only-l |
	sed 's/-lpss//') -o static 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	linked=$(readelf -d "$tmp/outside/static" | grep -c 'NEEDED.*libpss')
	"$tmp/outside/static" >"$tmp/static.out" 2>&1 &
	pid=$!
	wait $pid
	rc=$?
	got=$(cat "$tmp/static.out")
	tap "$([ $rc -eq 0 ] && [ "$linked" -eq 0 ] && [ "$got" = "$pid" ]; echo $?)" \
		"a program linked with the installed libpss.a (no libpss.so needed) captures itself"
	[ $rc -eq 0 ] || echo "$got" | note
else
	tap 1 "a program links with the installed libpss.a"
	echo "$out" | note
fi

[ $fails -eq 0 ]

#!/bin/bash
# bootstrap.sh - install what the build and the tests need, then configure and
# build vhdrecover out of tree. Idempotent: a second run only rebuilds what
# changed. Both README commands (examples/demo.sh, tests/run.sh) start here.
#
# usage: tests/bootstrap.sh [BUILD_DIR] [CONFIGURE_ARGS...]
#   BUILD_DIR defaults to build; a relative one is taken from the source root.
#   A first argument starting with "-" is a configure argument, e.g.
#   tests/bootstrap.sh build-asan --enable-sanitizers --enable-werror

# Sourcing works too, but the work runs in a child shell so that set -e and a
# failure's exit never leak into the caller's shell.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	bash "${BASH_SOURCE[0]}" "$@"
	return
fi

set -euo pipefail

# Debian 12 packages for building and testing. Later capabilities extend this
# list (libyaml, libfuse3, libntfs-3g, libext2fs, zstd, nbdkit, ...).
# clang-format: tests/run.sh checks the style; xxd: examples/demo.sh;
# python3: tests/tools/mkvhdx.py, the independent VHDX generator;
# nbdkit + nbdkit-plugin-dev: the NBD export (serve); libnbd-bin: nbdsh,
# nbdcopy and nbdinfo, its test clients; libzstd-dev: repository chunks;
# libyaml-dev: DR policies; restic, borgbackup: peers of bench/incremental.sh.
# fdisk: sfdisk and fdisk, the partition table oracles of test_partition;
# ntfs-3g-dev, libext2fs-dev: guest file systems; ntfs-3g, e2fsprogs: their
# test images and oracles; libarchive-dev: restore to .tar/.zip, checked with
# bsdtar (libarchive-tools); libfuse3-dev, fuse3 (fusermount3): mount.
PACKAGES="build-essential autoconf automake libtool pkg-config clang
	libclang-rt-14-dev libisal-dev libvhdi-dev libvhdi-utils libcunit1-dev
	libssl-dev bats qemu-utils jq bzip2 xz-utils gzip coreutils util-linux fdisk
	clang-format xxd python3 nbdkit nbdkit-plugin-dev libnbd-bin
	libzstd-dev libyaml-dev restic borgbackup faketime python3-jsonschema
	libext2fs-dev e2fsprogs ntfs-3g ntfs-3g-dev libarchive-dev
	libarchive-tools libfuse3-dev fuse3"

die()
{
	echo "bootstrap.sh: error: $*" >&2
	exit 1
}
trap 'echo "bootstrap.sh: error: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=build
if [[ $# -gt 0 && $1 != -* ]]; then
	BUILD_DIR=$1
	shift
fi
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$SRC_DIR/$BUILD_DIR

# 1. Packages: ask dpkg, and touch apt only when something is missing.
missing=()
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) ||
		status=
	[[ $status == ii* ]] || missing+=("$pkg")
done
if [[ ${#missing[@]} -gt 0 ]]; then
	[[ $(id -u) -eq 0 ]] ||
		die "missing packages (${missing[*]}); run as root to install them"
	echo "bootstrap.sh: installing missing packages: ${missing[*]}"
	apt-get update
	# shellcheck disable=SC2086 # the list is meant to split into words
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends $PACKAGES
fi

# 2. Generate configure when it is missing or older than its sources.
cd "$SRC_DIR"
mkdir -p m4 # git keeps no empty directory; aclocal -I m4 needs it
if [[ ! -x configure || ! -f Makefile.in || ! -f build-aux/tap-driver.sh ||
	configure.ac -nt configure || Makefile.am -nt Makefile.in ]]; then
	echo "bootstrap.sh: autoreconf -fi in $SRC_DIR"
	autoreconf -fi
fi

# 3. Configure out of tree. Rerun only when the arguments changed or
# configure is newer than the last run; make itself reruns config.status
# when Makefile.am changes.
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
stamp=.bootstrap-configure-args
args="$*"
old_args=$(cat "$stamp" 2>/dev/null) || old_args="(unknown)"
if [[ ! -f config.status || $old_args != "$args" ||
	$SRC_DIR/configure -nt config.status ]]; then
	echo "bootstrap.sh: configure${args:+ $args} in $BUILD_DIR"
	# Objects do not depend on the flags: new arguments (e.g. -Werror)
	# reach every object only after a clean.
	if [[ -f Makefile && $old_args != "$args" ]]; then
		make -s clean || true
	fi
	rm -f "$stamp"
	"$SRC_DIR/configure" "$@" ||
		die "configure failed; see $BUILD_DIR/config.log"
	printf '%s' "$args" >"$stamp"
fi

# 4. Build.
make -j"$(nproc)" || die "build failed in $BUILD_DIR"
echo "bootstrap.sh: built $BUILD_DIR/vhdrecover"

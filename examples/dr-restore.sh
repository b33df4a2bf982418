#!/bin/bash
# dr-restore.sh - runbook: bring a protected machine's disk back at a site
# that holds its own copy of the golden base: check the repository, pick
# the disk's newest recovery point (or the one given), restore it as a
# differencing VHDX over the local base (the base is verified against the
# recorded hashes first; only the delta leaves the repository), check the
# new disk and say what to start the machine on.
#
# usage: examples/dr-restore.sh REPO DISK LOCAL_BASE.vhdx OUT.vhdx [POINT]
#
# Exits non-zero, leaving OUT untouched, if any step fails. Set
# DR_SKIP_CHECK=1 to skip reading the whole repository first (large ones).
set -euo pipefail

usage()
{
	echo "usage: $0 REPO DISK LOCAL_BASE.vhdx OUT.vhdx [POINT]" >&2
	exit 2
}

(($# == 4 || $# == 5)) || usage
repo=$1 disk=$2 base=$3 out=$4 point=${5:-$2:latest}
[[ ! -e $out ]] || {
	echo "$0: $out exists; refusing to replace it" >&2
	exit 1
}

if [[ ${DR_SKIP_CHECK:-0} != 1 ]]; then
	echo "== checking $repo"
	vhdrecover repo check "$repo"
fi

echo "== recovery points of $disk"
vhdrecover points --disk "$disk" "$repo"

echo "== restoring $point over $base"
vhdrecover restore --json "$repo" "$point" --to "$out" --parent "$base" |
	jq -r '"point \(.point): \(.bytes_fetched) bytes from the repository, \(.base_bytes_verified) bytes of the local base verified"'
vhdrecover check "$out"

echo "== done: start the machine on $out (its parent is $base)"

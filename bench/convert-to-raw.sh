#!/bin/bash
# convert-to-raw.sh - VHDX to raw: vhdrecover convert against qemu-img convert,
# both measured in the same run on the same input (STYLE.md: speed is a ratio
# against a peer, never an absolute number).
#
# Input: a 4 GiB dynamic VHDX (32 MiB blocks) whose first half holds random
# data and whose second half was never written, so both tools must copy 2 GiB
# and skip 2 GiB of holes. Each tool runs 3 times; the median counts.
#
# usage: bench/convert-to-raw.sh   (VHDRECOVER=path/to/vhdrecover to override)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VHDRECOVER=${VHDRECOVER:-build/vhdrecover}
[[ $VHDRECOVER == /* ]] || VHDRECOVER=$ROOT/$VHDRECOVER
[[ -x $VHDRECOVER ]] || {
	echo "convert-to-raw.sh: $VHDRECOVER: not built (run tests/bootstrap.sh)" >&2
	exit 1
}
RUNS=3

# /var/tmp: 2 GiB of input and two 4 GiB sparse outputs do not belong in a
# tmpfs /tmp.
work=$(mktemp -d /var/tmp/vr-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "making in.vhdx: 4 GiB dynamic, block size 32 MiB, 2 GiB random data"
qemu-img create -q -f vhdx -o subformat=dynamic,block_size=32M in.vhdx 4G
# qemu-io's "write -s FILE" takes its data from FILE; one request is capped
# just under 2 GiB, so write 256 MiB chunks, each freshly random.
for ((mib = 0; mib < 2048; mib += 256)); do
	head -c 256M /dev/urandom >chunk
	qemu-io -f vhdx -c "write -q -s chunk ${mib}M 256M" in.vhdx
done
rm -f chunk

# Page cache cannot be dropped reliably here, so warm it instead: both tools
# then read the input from memory.
cat in.vhdx >/dev/null

# Print the wall-clock seconds of running a command (its own output goes to
# stderr). Called in $(...), where set -e is off: pass a failure on.
seconds()
{
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >&2 || return
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median()
{
	printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

# -t writeback: qemu-img convert defaults to cache=unsafe and never flushes,
# while vhdrecover fsyncs its output before the rename; both pay for getting
# the data to disk.
time_vr()
{
	seconds "$VHDRECOVER" convert --no-progress in.vhdx out1.raw -O raw
}
time_qemu()
{
	seconds qemu-img convert -t writeback -f vhdx -O raw in.vhdx out2.raw
}

# The disk's write speed drifts: with qemu-img in both slots, the second
# run of a pair was seen to take up to twice as long. So alternate who goes
# first, and sync before each run so nobody pays for leftover writeback.
vr_times=()
qemu_times=()
for ((i = 1; i <= RUNS; i++)); do
	rm -f out1.raw out2.raw
	order="vr qemu"
	((i % 2)) || order="qemu vr"
	for tool in $order; do
		sync
		t=$("time_$tool")
		if [[ $tool == vr ]]; then
			vr_times+=("$t")
		else
			qemu_times+=("$t")
		fi
	done
	echo "run $i: vhdrecover ${vr_times[-1]} s, qemu-img ${qemu_times[-1]} s"
done

cmp out1.raw out2.raw
echo "outputs identical (cmp)"

vr=$(median "${vr_times[@]}")
qemu=$(median "${qemu_times[@]}")
echo "vhdrecover convert (median of $RUNS): $vr s"
echo "qemu-img convert   (median of $RUNS): $qemu s"
awk -v q="$qemu" -v v="$vr" 'BEGIN {
	printf "ratio (qemu-img / vhdrecover): %.2f", q / v
	print " (>= 1.0 means vhdrecover is at least as fast)"
}'

#!/bin/bash
# convert-to-raw.sh - VHDX to raw: vhdrecover convert against qemu-img convert,
# both measured in the same run on the same input (STYLE.md: speed is a ratio
# against a peer, never an absolute number).
#
# Input: a 4 GiB dynamic VHDX (32 MiB blocks) whose first half holds random
# data and whose second half was never written, so both tools must copy 2 GiB
# and skip 2 GiB of holes. Each tool runs RUNS (5) times after an untimed
# warm-up; the median counts.
#
# usage: bench/convert-to-raw.sh   (VHDRECOVER=path/to/vhdrecover to override)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init convert-to-raw.sh
PEER=qemu-img

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

# -t writeback: qemu-img convert defaults to cache=unsafe and never flushes,
# while vhdrecover fsyncs its output before the rename; both pay for getting
# the data to disk.
time_vr()
{
	seconds "$VHDRECOVER" convert --no-progress in.vhdx out-vr.raw -O raw
}

bench_reset()
{
	# the input stays in the page cache: both tools read it from memory
	cat in.vhdx >/dev/null
	rm -f "out-$1.raw"
}

time_peer()
{
	seconds qemu-img convert -t writeback -f vhdx -O raw in.vhdx out-peer.raw
}

bench_compare convert
cmp out-vr.raw out-peer.raw
echo "outputs identical (cmp)"


#!/bin/bash
# convert-to-vhdx.sh - raw to dynamic VHDX: vhdrecover convert against
# qemu-img convert, both measured in the same run on the same input.
#
# Input: a 4 GiB raw image whose first half is random data and whose second
# half is zeros written out (not holes), so both tools must scan all 4 GiB,
# copy 2 GiB and leave the zero blocks unallocated. Both outputs use 32 MiB
# blocks. Each tool runs RUNS (5) times after an untimed warm-up; the
# median counts.
#
# usage: bench/convert-to-vhdx.sh   (VHDRECOVER=path/to/vhdrecover to override)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init convert-to-vhdx.sh
PEER=qemu-img

echo "making in.raw: 4 GiB, 2 GiB random data then 2 GiB of written zeros"
head -c 2G /dev/urandom >in.raw
head -c 2G /dev/zero >>in.raw
# Page cache cannot be dropped reliably here, so warm it instead.
cat in.raw >/dev/null

bench_reset()
{
	# the input stays in the page cache: both tools read it from memory
	cat in.raw >/dev/null
	rm -f "out-$1.vhdx"
}

time_vr()
{
	seconds "$VHDRECOVER" convert --no-progress -O vhdx --block-size 32M \
		in.raw out-vr.vhdx
}

# -t writeback: qemu-img convert defaults to cache=unsafe and never flushes,
# while vhdrecover fsyncs its output before the rename.
time_peer()
{
	seconds qemu-img convert -t writeback -f raw -O vhdx \
		-o subformat=dynamic,block_size=32M in.raw out-peer.vhdx
}

bench_compare convert
qemu-img compare -q -f vhdx -F vhdx out-vr.vhdx out-peer.vhdx
echo "outputs identical (qemu-img compare)"
qemu-img check -q out-vr.vhdx
echo "sizes on disk: vhdrecover $(du -k out-vr.vhdx | cut -f1) KiB," \
	"qemu-img $(du -k out-peer.vhdx | cut -f1) KiB"

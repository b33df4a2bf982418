#!/bin/bash
# random-write.sh - 64 KiB random writes into a dynamic VHDX: vhdrecover's
# write path (bench/replay_io, the library) against qemu-io, both measured
# in the same run, given the very same request script.
#
# The script: 16384 writes of 64 KiB (1 GiB) at random 64 KiB-aligned
# offsets of a 4 GiB dynamic VHDX with 32 MiB blocks (so blocks are
# allocated as the writes arrive), each filled with its own byte, and a
# flush after every 256 writes (16 MiB). Both start from copies of the same
# empty disk made by qemu-img. Each tool runs RUNS (5) times after an
# untimed warm-up; the median counts. The results must read the same (qemu-img compare).
#
# usage: bench/random-write.sh   (VHDRECOVER=path/to/vhdrecover to override)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init random-write.sh
PEER=qemu-io
REPLAY=$BUILD/bench/replay_io
[[ -x $REPLAY ]] || {
	echo "random-write.sh: $REPLAY: not built (make -C $BUILD)" >&2
	exit 1
}

echo "making the script: 16384 x 64 KiB random writes, flush every 256"
python3 - >script <<'PY'
import random
rng = random.Random(20261126)
slots = (4 << 30) // (64 << 10)
for i in range(16384):
    print("write -P %d %d %d" % (1 + i % 255, rng.randrange(slots) * 65536, 65536))
    if i % 256 == 255:
        print("flush")
PY
qemu-img create -q -f vhdx -o subformat=dynamic,block_size=32M empty.vhdx 4G

bench_reset()
{
	cp empty.vhdx "out-$1.vhdx"
}

time_vr()
{
	seconds "$REPLAY" out-vr.vhdx <script
}

# -t writeback: the same cache mode as the library (page cache, flushes
# when the script says so).
time_peer()
{
	seconds sh -c 'qemu-io -t writeback -f vhdx out-peer.vhdx <script >/dev/null'
}

bench_compare random-write
qemu-img check -q out-vr.vhdx
qemu-img compare -q -f vhdx -F vhdx out-vr.vhdx out-peer.vhdx
echo "results identical (qemu-img compare), qemu-img check clean"

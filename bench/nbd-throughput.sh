#!/bin/bash
# nbd-throughput.sh - the NBD export (vhdrecover serve: nbdkit + our plugin)
# against qemu-nbd exporting the same kind of dynamic VHDX, and against
# nbdkit's file plugin on a raw file (the ceiling), all in the same run;
# plus our export with change tracking off, to price tracking.
#
# Per target: sequential write of 2 GiB (nbdcopy --flush from a cached
# random file into a fresh 2 GiB disk), sequential read of it back
# (nbdcopy to null:), and 4 KiB random writes (qemu-img bench: 65536
# writes = 256 MiB, queue depth 16, offsets scattered by a large odd
# step, a flush every 1024 writes) into a fresh disk. Dynamic VHDX with
# 32 MiB blocks for both VHDX exports; Unix sockets; medians of RUNS (3).
#
# usage: bench/nbd-throughput.sh   (VHDRECOVER=path/to/vhdrecover to override)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init nbd-throughput.sh
RUNS=${RUNS_NBD:-3}
PLUGIN=$BUILD/src/nbdkit-vhdrecover-plugin.so
SIZE=$((2 * 1024 * 1024 * 1024))
SOCK=$BENCH_WORK/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
pid=

echo "making in.raw: 2 GiB of random data"
head -c "$SIZE" /dev/urandom >in.raw

stop()
{
	if [[ -n $pid ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
	rm -f "$SOCK"
}
trap 'stop; rm -rf "$BENCH_WORK"' EXIT

# start TARGET: a fresh empty disk of SIZE exported on SOCK.
start()
{
	local i

	stop
	rm -f d.vhdx d.vhdx.cbt d.raw
	case $1 in
	vr | vr-untracked)
		"$VHDRECOVER" create d.vhdx --size "$SIZE" --block-size 32M
		local track=true
		[[ $1 == vr ]] || track=false
		nbdkit -f -U "$SOCK" "$PLUGIN" file=d.vhdx tracking=$track &
		;;
	qemu-nbd)
		qemu-img create -q -f vhdx -o subformat=dynamic,block_size=32M \
			d.vhdx "$SIZE"
		# -t: stay up after the first client (the readiness probe)
		qemu-nbd -t -f vhdx --cache=writeback -k "$SOCK" d.vhdx &
		;;
	raw)
		truncate -s "$SIZE" d.raw
		nbdkit -f -U "$SOCK" file d.raw &
		;;
	esac
	pid=$!
	for i in $(seq 100); do
		nbdinfo --size "$URI" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nbd-throughput.sh: $1 did not start" >&2
	exit 1
}

# seconds_of TARGET OP: one timed run of OP (write, read, random).
seconds_of()
{
	start "$1"
	if [[ $2 == read ]]; then
		nbdcopy --flush in.raw "$URI"
	fi
	cat in.raw >/dev/null
	sync
	sleep "${BENCH_SETTLE:-5}"
	case $2 in
	write) seconds nbdcopy --flush in.raw "$URI" ;;
	read) seconds nbdcopy "$URI" null: ;;
	random)
		seconds qemu-img bench -w -f raw -s 4096 -c 65536 -d 16 \
			-S $((4096 * 104729)) --flush-interval=1024 "$URI" ;;
	esac
	if [[ $2 == write && $1 != raw ]]; then
		# what was written must read back
		nbdcopy "$URI" - | cmp - in.raw >&2
	fi
	stop
}

declare -A result
for op in write read random; do
	for target in vr vr-untracked qemu-nbd raw; do
		times=()
		for ((i = 1; i <= RUNS; i++)); do
			times+=("$(seconds_of "$target" "$op")")
		done
		result[$target.$op]=$(median "${times[@]}")
		echo "$op $target: ${times[*]} s (median ${result[$target.$op]})"
	done
done

mbps()
{
	awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'
}
ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}
echo
printf '%-8s %12s %12s %12s %12s\n' op vhdrecover untracked qemu-nbd raw
for op in write read random; do
	bytes=$SIZE
	[[ $op != random ]] || bytes=$((65536 * 4096))
	printf '%-8s' "$op"
	for target in vr vr-untracked qemu-nbd raw; do
		printf ' %9s MB/s' "$(mbps "$bytes" "${result[$target.$op]}")"
	done
	echo
done
echo
for op in write read random; do
	echo "$op: vhdrecover / qemu-nbd $(ratio "${result[qemu-nbd.$op]}" \
		"${result[vr.$op]}"), vhdrecover / raw ceiling" \
		"$(ratio "${result[raw.$op]}" "${result[vr.$op]}")"
done
for op in write random; do
	echo "$op: tracking costs" \
		"$(awk -v t="${result[vr.$op]}" -v u="${result[vr-untracked.$op]}" \
			'BEGIN { printf "%.1f", (t - u) / u * 100 }')% of the time"
done

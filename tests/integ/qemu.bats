#!/usr/bin/env bats
# qemu.bats - VHDX files made and written by QEMU (qemu-img create, then
# qemu-io writes), read back by vhdrecover and compared with qemu-img's
# own reading of the same file.
#
# Every image gets 20-40 operations at pseudo-random, sector-aligned
# offsets: data writes with content that differs in every sector (so a
# sector read from the wrong place shows), writes that deliberately cross
# block boundaries, zero-pattern data writes, `write -z` and `discard`, plus
# writes of the first and the last sector. The offsets come from a
# Park-Miller generator with a fixed seed per image (1001-1010), not from
# $RANDOM, so a failure reproduces exactly; a failed comparison prints the
# qemu-io commands that made the image.
#
# Run by `make check`, or by hand from the top of the source tree:
#   bats --tap tests/integ/qemu.bats

load helpers

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

M=$((1024 * 1024))

# rand N: the next number of the generator in PRNG, reduced to [0, N), in R.
# (Park-Miller "minimal standard": PRNG = PRNG * 48271 mod 2^31-1; no
# overflow in 64-bit shell arithmetic.)
rand()
{
	PRNG=$((PRNG * 48271 % 2147483647))
	R=$((PRNG % $1))
}

# data_file NAME SEED INDEX LEN: LEN bytes of text in NAME, lines of
# "<seed>w<index>:<counter>" that are all different, so every sector of
# every write is unique.
data_file()
{
	seq -f "${2}w${3}:%09g" 0 $(($4 / 12 + 1)) | head -c "$4" >"$1"
}

# make_ops SIZE BLOCK SEED COUNT: fill the array OPS with COUNT qemu-io
# commands for a disk of SIZE bytes with BLOCK-byte blocks, then a write of
# the first and of the last sector. Writes data files d<i> as needed.
make_ops()
{
	local size=$1 bs=$2 seed=$3 count=$4
	local sectors=$(($1 / 512)) nblocks=$((($1 + $2 - 1) / $2))
	local i kind off len k back

	PRNG=$seed
	OPS=()
	for ((i = 0; i < count; i++)); do
		rand 10
		kind=$R
		if ((kind < 4 && nblocks > 1)); then
			# Across the boundary at the start of block k: begin
			# 1-64 sectors before it, end up to 2 MiB after it.
			rand $((nblocks - 1))
			k=$((R + 1))
			rand 64
			back=$((R + 1))
			rand 4096
			off=$((k * bs - back * 512))
			len=$(((back + 1 + R) * 512))
		else
			rand "$sectors"
			off=$((R * 512))
			rand 2048
			len=$(((R + 1) * 512))
		fi
		((off + len <= size)) || len=$((size - off))
		rand 10
		case $R in
		0 | 1 | 2 | 3 | 4 | 5)
			data_file "d$i" "$seed" "$i" "$len"
			OPS+=("write -q -s d$i $off $len")
			;;
		6) OPS+=("write -q -P 0 $off $len") ;;
		7) OPS+=("write -q -z $off $len") ;;
		8) OPS+=("discard -q $off $len") ;;
		9) OPS+=("write -q -P $((0x11 + i)) $off $len") ;;
		esac
	done
	data_file first "$seed" first 512
	data_file last "$seed" last 512
	OPS+=("write -q -s first 0 512" "write -q -s last $((size - 512)) 512")
}

# qemu_case SIZE OPTIONS SEED COUNT [STATES]: the whole check for one image.
#   1. qemu-img create -f vhdx -o OPTIONS img.vhdx SIZE, COUNT random ops
#      through qemu-io; STATES (a jq test on info's "blocks", by default
#      some block is fully present) proves the image has the block states
#      the case is about;
#   2. vhdrecover convert output == qemu-img convert output (cmp), and
#      qemu-img compare says img.vhdx and our output are identical;
#   3. info reports qemu's virtual size, block size and type;
#   4. 16 random `vhdrecover read` ranges equal the same bytes of qemu's
#      output;
#   5. vhdrecover check says clean (and so does qemu-img check).
qemu_case()
{
	local size=$1 opts=$2 seed=$3 count=$4 states=${5:-.fully_present > 0}
	local bs type i off len args=() op

	qemu-img create -q -f vhdx -o "$opts" img.vhdx "$size"
	bs=$(qemu_json img.vhdx -f vhdx | jq -r '."cluster-size"')
	[[ $opts == *subformat=fixed* ]] && type=fixed || type=dynamic

	make_ops "$size" "$bs" "$seed" "$count"
	printf '%s\n' "${OPS[@]}" >ops.txt
	for op in "${OPS[@]}"; do
		args+=(-c "$op")
	done
	run qemu-io -f vhdx "${args[@]}" img.vhdx
	if [[ $status -ne 0 || -n $output ]]; then
		echo "qemu-io failed ($status): $output"
		cat ops.txt
		return 1
	fi
	# The writes reached the image (else every comparison below is moot).
	json_true "$(qemu-img map -f vhdx --output=json img.vhdx)" \
		'[.[] | select(.data)] | length > 0'

	run --separate-stderr "$VHDRECOVER" convert img.vhdx ours.raw -O raw
	if [[ $status -ne 0 || -n $stderr ]]; then
		echo "convert failed ($status): $stderr"
		return 1
	fi
	qemu-img convert -f vhdx -O raw img.vhdx qemu.raw
	if ! same_bytes ours.raw qemu.raw; then
		echo "operations (seed $seed):"
		cat ops.txt
		return 1
	fi
	run qemu-img compare -f vhdx -F raw img.vhdx ours.raw
	[ "$status" -eq 0 ]
	[[ $output == "Images are identical." ]]

	run --separate-stderr "$VHDRECOVER" info --json img.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.virtual_size == $size and .block_size == $bs and
		 .type == $type and .has_parent == false and
		 .log.entries_to_replay == 0' \
		--argjson size "$size" --argjson bs "$bs" --arg type "$type"
	json_true "$output" "(.blocks | $states)"

	for ((i = 0; i < 16; i++)); do
		rand $((size / 512))
		off=$((R * 512))
		rand 8192
		len=$(((R + 1) * 512))
		((off + len <= size)) || len=$((size - off))
		"$VHDRECOVER" read img.vhdx "$off" "$len" >r.bin
		file_range qemu.raw "$off" "$len" >q.bin
		if ! same_bytes r.bin q.bin; then
			echo "read img.vhdx $off $len differs from qemu's output"
			return 1
		fi
	done

	run --separate-stderr "$VHDRECOVER" check img.vhdx
	echo "vhdrecover check img.vhdx ($status): $output $stderr"
	[ "$status" -eq 0 ]
	[[ $output == "img.vhdx: clean" ]]
	run --separate-stderr "$VHDRECOVER" check --json img.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.clean == true and .errors == 0 and .warnings == 0'
	qemu-img check -q -f vhdx img.vhdx
}

@test "dynamic VHDX, 1 MiB blocks, 1 MiB log, block_state_zero=on: qemu-written data reads back as qemu reads it and checks clean" {
	qemu_case $((64 * M)) \
		subformat=dynamic,block_size=1M,log_size=1M,block_state_zero=on \
		1001 40 '.zero > 0 and .fully_present > 0'
}

@test "dynamic VHDX, 1 MiB blocks, 8 MiB log, block_state_zero=off, size 48 MiB + 512: reads back as qemu reads it and checks clean" {
	qemu_case $((48 * M + 512)) \
		subformat=dynamic,block_size=1M,log_size=8M,block_state_zero=off \
		1002 40 '.not_present > 0 and .fully_present > 0'
}

@test "dynamic VHDX, 32 MiB blocks, 8 MiB log, block_state_zero=on, size 200 MiB (6.25 blocks): reads back as qemu reads it and checks clean" {
	qemu_case $((200 * M)) \
		subformat=dynamic,block_size=32M,log_size=8M,block_state_zero=on \
		1003 30
}

@test "dynamic VHDX, 32 MiB blocks, 1 MiB log, block_state_zero=off, size 100 MiB + 512: reads back as qemu reads it and checks clean" {
	qemu_case $((100 * M + 512)) \
		subformat=dynamic,block_size=32M,log_size=1M,block_state_zero=off \
		1004 30
}

@test "dynamic VHDX, 256 MiB blocks, 1 MiB log, block_state_zero=on, size 600 MiB: reads back as qemu reads it and checks clean" {
	qemu_case $((600 * M)) \
		subformat=dynamic,block_size=256M,log_size=1M,block_state_zero=on \
		1005 20
}

@test "dynamic VHDX, 256 MiB blocks, 8 MiB log, block_state_zero=off, size 300 MiB + 512: reads back as qemu reads it and checks clean" {
	qemu_case $((300 * M + 512)) \
		subformat=dynamic,block_size=256M,log_size=8M,block_state_zero=off \
		1006 20
}

@test "fixed VHDX, 1 MiB blocks, 1 MiB log, block_state_zero=on (ZERO blocks), size 32 MiB + 512: reads back as qemu reads it and checks clean" {
	qemu_case $((32 * M + 512)) \
		subformat=fixed,block_size=1M,log_size=1M,block_state_zero=on \
		1007 40 '.zero > 0 and .fully_present > 0'
}

@test "fixed VHDX, 32 MiB blocks, 8 MiB log, block_state_zero=off, size 96 MiB: reads back as qemu reads it and checks clean" {
	qemu_case $((96 * M)) \
		subformat=fixed,block_size=32M,log_size=8M,block_state_zero=off \
		1008 30
}

@test "fixed VHDX, 256 MiB blocks, 1 MiB log, block_state_zero=off, size 260 MiB: reads back as qemu reads it and checks clean" {
	qemu_case $((260 * M)) \
		subformat=fixed,block_size=256M,log_size=1M,block_state_zero=off \
		1009 20
}

@test "dynamic VHDX with qemu-img's default options (auto block size): reads back as qemu reads it and checks clean" {
	qemu_case $((1024 * M)) subformat=dynamic 1010 30 \
		'.zero > 0 and .fully_present > 0'
}

@test "a qemu-made VHDX that was never written reads as zeros, fully sparse" {
	qemu-img create -q -f vhdx -o block_size=32M img.vhdx 1G
	run --separate-stderr "$VHDRECOVER" convert img.vhdx ours.raw -O raw
	[ "$status" -eq 0 ]
	[ "$(stat -c %s ours.raw)" -eq $((1024 * M)) ]
	[ "$(du -k ours.raw | cut -f1)" -le 64 ]
	qemu-img compare -q -f vhdx -F raw img.vhdx ours.raw
	run --separate-stderr "$VHDRECOVER" check img.vhdx
	[ "$status" -eq 0 ]
	[[ $output == "img.vhdx: clean" ]]
}

@test "a never-written fixed VHDX made with qemu-img's defaults (all blocks ZERO) reads as zeros and checks clean" {
	# [MS-VHDX] 2.6.2.1: with LeaveBlockAllocated a writer SHOULD NOT
	# move blocks to NOT_PRESENT; ZERO is allowed, and is what qemu-img
	# writes by default (block_state_zero=on).
	qemu-img create -q -f vhdx -o subformat=fixed img.vhdx 64M
	run --separate-stderr "$VHDRECOVER" info --json img.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.type == "fixed" and .leave_blocks_allocated and
		.blocks.zero == .blocks.payload'
	run --separate-stderr "$VHDRECOVER" convert img.vhdx ours.raw -O raw
	[ "$status" -eq 0 ]
	qemu-img compare -q -f vhdx -F raw img.vhdx ours.raw
	qemu-img check -q -f vhdx img.vhdx
	run --separate-stderr "$VHDRECOVER" check img.vhdx
	echo "vhdrecover check img.vhdx ($status): $output $stderr"
	[ "$status" -eq 0 ]
	[[ $output == "img.vhdx: clean" ]]
}

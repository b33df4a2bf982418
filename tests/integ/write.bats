#!/usr/bin/env bats
# write.bats - writing VHDX: "vhdrecover write" and the library's write path
# (through tests/crash/crash_write, which drives seeded workloads and kills
# writers), checked by qemu-img check/compare and by libvhdi's vhdimount
# reading what we wrote, against raw mirrors of every write.

load helpers

M=$((1024 * 1024))
CRASH=${TOP_BUILDDIR:-$PWD/build}/tests/crash/crash_write

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

# write_random DISK MIRROR OFFSET LENGTH: the same random bytes into both.
write_random()
{
	head -c "$4" /dev/urandom >chunk
	"$VHDRECOVER" write "$1" "$3" chunk
	dd if=chunk of="$2" bs=1M oflag=seek_bytes seek="$3" conv=notrunc \
		status=none
}

@test "dynamic and fixed disks of every block size, written, pass qemu-img check and compare to the raw mirror" {
	local bs t size
	for bs in 1M 32M 256M; do
		for size in $((64 * M)) $((100 * M + 512)); do
			for t in dynamic fixed; do
				rm -f d.vhdx m.raw
				"$VHDRECOVER" create d.vhdx --size "$size" \
					--type "$t" --block-size "$bs"
				truncate -s "$size" m.raw
				# sub-sector-run, block-crossing, tail of the disk
				write_random d.vhdx m.raw 512 1536
				write_random d.vhdx m.raw $((M - 4096)) $((3 * M))
				write_random d.vhdx m.raw $((size - 8192)) 8192
				"$VHDRECOVER" write --zero $((M / 2)) d.vhdx $((M - 4096))
				dd if=/dev/zero of=m.raw bs=1M oflag=seek_bytes \
					seek=$((M - 4096)) count=$((M / 2)) \
					iflag=count_bytes conv=notrunc status=none
				qemu-img check d.vhdx
				qemu-img compare -f vhdx -F raw d.vhdx m.raw
				run "$VHDRECOVER" check d.vhdx
				[ "$output" = "d.vhdx: clean" ]
			done
		done
	done
}

@test "a 4096-byte-sector disk written through the CLI reads as its mirror in vhdimount" {
	"$VHDRECOVER" create d.vhdx --size 24M --block-size 2M \
		--logical-sector 4096
	truncate -s 24M m.raw
	write_random d.vhdx m.raw 4096 12288
	write_random d.vhdx m.raw $((3 * M)) $((5 * M))
	run --separate-stderr "$VHDRECOVER" write d.vhdx 512 chunk
	assert_one_line_error '^vhdrecover: .*4096-byte sector'
	vhdi_mount d.vhdx mnt
	cmp "$VHDI_TOP" m.raw
}

# workload_over BASE: a child of BASE gets 5000 seeded operations, mirrored
# into a raw copy of BASE's content; our reader, libvhdi and the mirror
# must agree and BASE must not change.
workload_over()
{
	local base=$1 sum
	sum=$(sha_of "$base")
	"$VHDRECOVER" convert "$base" mirror.raw -O raw
	"$VHDRECOVER" create child.vhdx --parent "$base"
	run "$CRASH" mirror child.vhdx mirror.raw 5000 "$RANDOM"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ops: 5000 ("* ]]
	"$VHDRECOVER" convert child.vhdx ours.raw -O raw
	cmp ours.raw mirror.raw
	vhdi_mount child.vhdx mnt
	cmp "$VHDI_TOP" mirror.raw
	vhdi_umount mnt
	[ "$(sha_of "$base")" = "$sum" ]
	run "$VHDRECOVER" check child.vhdx
	[ "$status" -eq 0 ]
	[ "$output" = "child.vhdx: clean" ]
}

@test "a differencing disk over our base takes a random workload: our read, vhdimount and the mirror agree" {
	head -c $((48 * M)) /dev/urandom >base.raw
	"$VHDRECOVER" create base.vhdx --size 48M --block-size 1M
	"$VHDRECOVER" write base.vhdx 0 base.raw
	workload_over base.vhdx
}

@test "differencing disks over the Windows-made bases take a random workload: our read, vhdimount and the mirror agree" {
	local f
	for f in dissect/fixed.vhdx.gz dissect/dynamic.vhdx.gz; do
		rm -rf ./*
		corpus_extract "$f" base.vhdx
		workload_over base.vhdx
	done
}

@test "the Windows-made differencing.avhdx, written, reads its new and old data in libvhdi as in ours" {
	local parent='Generation 1_49C4BAF3-4B25-4406-8C4B-D39E65C32385.avhdx'
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	# A stand-in for the missing parent: its DataWriteGuid is the
	# child's parent_linkage, so libvhdi and we both accept it.
	python3 "$TOP_SRCDIR/tests/tools/mkvhdx.py" --size 8G \
		--block-size 32M --logical-sector 512 \
		--data-write-guid ff34003b-11ed-4cf8-a166-b2be05e20b80 \
		--write 0:8M:1 --write 100M:4M:2 "$parent"
	"$VHDRECOVER" convert differencing.avhdx before.raw -O raw
	# libvhdi through FUSE reads 8 GiB slowly: compare where our view
	# has data (the stand-in's and the child's blocks), and a zero range
	vhdi_mount differencing.avhdx mnt
	sparse_cmp --data-of before.raw "$VHDI_TOP" before.raw
	file_range "$VHDI_TOP" $((6 * 1024 * M)) $((64 * M)) |
		cmp - <(head -c $((64 * M)) /dev/zero)
	vhdi_umount mnt
	# into a partially present block, a not present one, across blocks
	cp --sparse=always before.raw after.raw
	write_random differencing.avhdx after.raw 4096 8192
	write_random differencing.avhdx after.raw $((101 * M + 512)) $((3 * M))
	write_random differencing.avhdx after.raw $((4 * 1024 * M)) $((2 * M))
	"$VHDRECOVER" convert differencing.avhdx ours.raw -O raw
	sparse_cmp ours.raw after.raw
	vhdi_mount differencing.avhdx mnt
	sparse_cmp --data-of after.raw "$VHDI_TOP" after.raw
	vhdi_umount mnt
	run "$VHDRECOVER" check differencing.avhdx
	[ "$output" = "differencing.avhdx: clean" ]

	# folded into the stand-in: its locator's parent_linkage2 (Hyper-V
	# wrote it all zeros) is updated in place, then the parent reads as
	# the chain did
	"$VHDRECOVER" merge differencing.avhdx
	[ ! -e differencing.avhdx ]
	qemu-img check "$parent"
	"$VHDRECOVER" convert "$parent" merged.raw
	sparse_cmp merged.raw after.raw
}

@test "crash test: a writer killed 200 times over a differencing disk always leaves a flushed prefix" {
	head -c $((40 * M)) /dev/urandom >base.raw
	"$VHDRECOVER" create base.vhdx --size 40M --block-size 1M
	"$VHDRECOVER" write base.vhdx 0 base.raw
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	run "$CRASH" kill child.vhdx 200 "$RANDOM"
	echo "# differencing: $output" >&3
	[ "$status" -eq 0 ]
	[[ $output == "kills survived: 200 of 200"* ]]
	vhdi_mount child.vhdx mnt
	"$VHDRECOVER" convert child.vhdx ours.raw -O raw
	cmp "$VHDI_TOP" ours.raw
}

@test "crash test: a writer killed 100 times over a dynamic disk always leaves a flushed prefix, qemu-img check clean" {
	"$VHDRECOVER" create d.vhdx --size 40M --block-size 1M
	run "$CRASH" kill d.vhdx 100 "$RANDOM"
	echo "# dynamic: $output" >&3
	[ "$status" -eq 0 ]
	[[ $output == "kills survived: 100 of 100"* ]]
	qemu-img check d.vhdx
	"$VHDRECOVER" convert d.vhdx ours.raw -O raw
	qemu-img compare -f vhdx -F raw d.vhdx ours.raw
}

@test "write refuses a read-only file, a changed parent and bad input with one line naming the file" {
	"$VHDRECOVER" create base.vhdx --size 8M
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	head -c 4096 /dev/urandom >in
	# the parent written after the child was made: new DataWriteGuid
	"$VHDRECOVER" write base.vhdx 0 in
	local sum
	sum=$(sha_of child.vhdx)
	run --separate-stderr "$VHDRECOVER" write child.vhdx 0 in
	assert_one_line_error '^vhdrecover: child\.vhdx: .*(linkage|DataWriteGuid)'
	[ "$(sha_of child.vhdx)" = "$sum" ]

	# a read-only file system (root ignores file modes)
	mkdir ro
	cp base.vhdx ro/
	mount --bind ro ro
	VR_MOUNTS+=("$VR_WORK/ro")
	mount -o remount,bind,ro ro
	run --separate-stderr "$VHDRECOVER" write ro/base.vhdx 0 in
	assert_one_line_error '^vhdrecover: ro/base\.vhdx: Read-only file system'

	sum=$(sha_of base.vhdx)
	head -c 1000 /dev/urandom >odd
	run --separate-stderr "$VHDRECOVER" write base.vhdx 0 odd
	assert_one_line_error '^vhdrecover: odd: 1000 bytes is not a whole number of 512-byte sectors'
	run --separate-stderr "$VHDRECOVER" write base.vhdx 8M in
	assert_one_line_error '^vhdrecover: in: 4096 bytes at 0x800000 reach past the end'
	run --separate-stderr bash -c 'cat odd | "$VHDRECOVER" write base.vhdx 512' 
	assert_one_line_error '^vhdrecover: -: input ends 488 bytes into a 512-byte sector'
	run --separate-stderr "$VHDRECOVER" write --zero 1M base.vhdx 8M
	assert_one_line_error '^vhdrecover: base\.vhdx: write of 1048576 bytes at 0x800000 is outside the disk'
	run --separate-stderr "$VHDRECOVER" write --unmap base.vhdx 0 in
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" write base.vhdx
	assert_usage_error
}

@test "a full disk during write gives one line, and the disk still opens with its flushed data" {
	mkdir small
	mount -t tmpfs -o size=12M tmpfs small
	VR_MOUNTS+=("$VR_WORK/small")
	"$VHDRECOVER" create small/d.vhdx --size 64M --block-size 1M
	head -c $((2 * M)) /dev/urandom >first
	"$VHDRECOVER" write small/d.vhdx 0 first
	head -c $((16 * M)) /dev/urandom >big
	run --separate-stderr "$VHDRECOVER" write small/d.vhdx 4M big
	assert_one_line_error '^vhdrecover: small/d\.vhdx: .*No space left on device'
	run "$VHDRECOVER" check small/d.vhdx
	[ "$status" -eq 0 ]
	"$VHDRECOVER" read small/d.vhdx 0 2M >got
	cmp got first
	# once there is room again the disk takes writes
	rm -f big
	umount small
	mount -t tmpfs -o size=64M tmpfs small
	"$VHDRECOVER" create small/e.vhdx --size 8M
	"$VHDRECOVER" write small/e.vhdx 0 first
	qemu-img check small/e.vhdx
}

@test "a full disk during create gives one line and leaves no file behind" {
	mkdir small
	mount -t tmpfs -o size=4M tmpfs small
	VR_MOUNTS+=("$VR_WORK/small")
	run --separate-stderr "$VHDRECOVER" create small/f.vhdx --size 16M --type fixed
	assert_one_line_error '^vhdrecover: small/f\.vhdx.*No space left on device'
	[ -z "$(ls small)" ]
}

@test "convert -O vhdx of random data, every block size and type: qemu-img check clean and compare identical to the raw source" {
	local bs t size
	size=$((40 * M + 4096))
	head -c $((12 * M)) /dev/urandom >src.raw
	# a zero stretch, then data again up to a size that is no block multiple
	truncate -s $((30 * M)) src.raw
	head -c $((size - 30 * M)) /dev/urandom >>src.raw
	for bs in 1M 32M 256M; do
		for t in dynamic fixed; do
			rm -f out.vhdx
			"$VHDRECOVER" convert -O vhdx --type "$t" --block-size "$bs" \
				src.raw out.vhdx
			qemu-img check out.vhdx
			qemu-img compare -f vhdx -F raw out.vhdx src.raw
			run "$VHDRECOVER" info --json out.vhdx
			[ "$(jq -r .type <<<"$output")" = "$t" ]
		done
	done
	# dynamic, 1 MiB blocks: the 18 MiB of zeros stay unallocated
	"$VHDRECOVER" convert -O vhdx --block-size 1M src.raw zeros.vhdx
	run "$VHDRECOVER" info --json zeros.vhdx
	[ "$(jq -r .blocks.not_present <<<"$output")" -eq 18 ]
}

@test "convert -O vhdx from a Windows-made VHD and from a 4096-byte-sector VHDX reads the same" {
	corpus_extract dissect/dynamic.vhd.gz in.vhd
	"$VHDRECOVER" convert in.vhd want.raw
	"$VHDRECOVER" convert -O vhdx in.vhd out.vhdx
	qemu-img check out.vhdx
	qemu-img compare -f vhdx -F raw out.vhdx want.raw

	"$VHDRECOVER" create s4k.vhdx --size 16M --block-size 2M \
		--logical-sector 4096
	truncate -s 16M s4k.raw
	write_random s4k.vhdx s4k.raw $((M + 4096)) $((3 * M))
	"$VHDRECOVER" convert -O vhdx s4k.vhdx s4k-copy.vhdx
	run "$VHDRECOVER" info --json s4k-copy.vhdx
	[ "$(jq -r .logical_sector_size <<<"$output")" -eq 4096 ]
	vhdi_mount s4k-copy.vhdx mnt
	cmp "$VHDI_TOP" s4k.raw
	# an input that is no whole number of sectors is refused
	head -c 1000 /dev/urandom >odd.raw
	run --separate-stderr "$VHDRECOVER" convert -O vhdx odd.raw odd.vhdx
	assert_one_line_error '^vhdrecover: odd\.raw: size 1000 is not a whole number of 512-byte sectors'
	[ ! -e odd.vhdx ]
}

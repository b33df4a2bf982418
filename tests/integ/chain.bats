#!/usr/bin/env bats
# chain.bats - differencing VHDX chains, read through vhdrecover and checked
# against two implementations that share nothing with ours: the images and
# their expected content come from tests/tools/mkvhdx.py (an independent
# [MS-VHDX] writer), and libvhdi's vhdimount/vhdiinfo read the same files.
#
# Run by `make check` (which exports VHDRECOVER and TOP_SRCDIR), or by hand
# from the top of the tree: bats tests/integ/chain.bats
#
# libvhdi 20210425 quirks these tests work around (not our bugs):
#  - it reads a ZERO or UNMAPPED block of a differencing disk from the
#    parent; [MS-VHDX] 2.5.1.1 defines ZERO as zeros, so those blocks are
#    left out of the vhdimount comparison (and checked against mkvhdx);
#  - in a chunk without a sector bitmap block it takes file offset 0 as the
#    bitmap, so the children here use mkvhdx --bitmap-every-chunk (as
#    Hyper-V does) whenever vhdimount reads them.

load helpers

MKVHDX=$TOP_SRCDIR/tests/tools/mkvhdx.py
M=$((1024 * 1024))

# ---- helpers of this file (shared ones come from helpers.bash) ----

setup()
{
	vr_setup
	T=$VR_WORK
}

teardown()
{
	vr_teardown
}

mkvhdx()
{
	python3 "$MKVHDX" "$@"
}

# masked_copy SRC DST BLOCK_SIZE BLOCK...: DST = SRC with those blocks zeroed
masked_copy()
{
	local src=$1 dst=$2 bs=$3 b

	shift 3
	cp --sparse=always "$src" "$dst"
	for b in "$@"; do
		dd if=/dev/zero of="$dst" bs="$bs" seek="$b" count=1 \
			conv=notrunc status=none
	done
}

# block_is_zero FILE BLOCK_SIZE N / block_has_data FILE BLOCK_SIZE N
# (a bare `! cmd` never fails a bats test: set -e ignores negated commands)
block_is_zero()
{
	[ "$(dd if="$1" bs="$2" skip="$3" count=1 status=none |
		tr -d '\000' | wc -c)" -eq 0 ]
}

block_has_data()
{
	[ "$(dd if="$1" bs="$2" skip="$3" count=1 status=none |
		tr -d '\000' | wc -c)" -gt 0 ]
}

# differ A B: the two files are not equal
differ()
{
	if cmp -s "$1" "$2"; then
		echo "$1 and $2 are equal" >&2
		return 1
	fi
}

# guid_of TEXT: a GUID in lower case without braces
guid_of()
{
	tr -d '{}' <<<"$1" | tr 'A-F' 'a-f'
}

# ---- fixtures ----

# base.vhdx: dynamic, 64 MiB, 1 MiB blocks; data in blocks 0-7, 10, 20-21,
# 40 (part of it) and 63 (the last block).
make_base()
{
	mkvhdx base.vhdx --size 64M --block-size 1M \
		--write 0:8M:1 --write $((10 * M)):64K:2 \
		--write $((20 * M)):2M:3 --write $((40 * M + 512)):4096:4 \
		--write $((63 * M)):1M:5 --expect-raw base.raw
}

# child.vhdx over base.vhdx: every kind of block a child can have.
#   FULLY_PRESENT: 2 (over base data), 7 (written whole, then its tail again)
#   PARTIALLY_PRESENT, sector aligned but not block aligned:
#     0 (first 512 KiB), 3 (8 KiB at +4 KiB), 4 (sectors 3-5), 5 (sectors
#     1 and 2047), 8 (first 2 KiB, the tail of a write that began in 7),
#     21 (sectors 3-7), 30 (over a parent block that reads zero)
#   ZERO over parent data: 10, 20
#   NOT_PRESENT (parent data shows through): 1, 6, 40, 63, ...
make_child()
{
	mkvhdx child.vhdx --parent base.vhdx --bitmap-every-chunk \
		--write 0:512K:10 \
		--write $((2 * M)):1M:11 \
		--write $((3 * M + 4096)):8192:12 \
		--write $((4 * M + 1536)):1536:13 \
		--write $((5 * M + 512)):512:14 \
		--write $((6 * M - 512)):512:15 \
		--write $((7 * M)):1M:16 \
		--write $((8 * M - 2048)):4096:17 \
		--write $((21 * M + 1536)):2560:18 \
		--write $((30 * M + 65536)):4096:19 \
		--zero-block 10 --zero-block 20 \
		--expect-raw child.raw
}

# ---- tests ----

@test "convert of a child over a generated base equals mkvhdx's content and libvhdi's view" {
	make_base
	make_child
	# The child really has what this test claims to cover.
	run "$VHDRECOVER" info --json child.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq .blocks.fully_present <<<"$output")" -eq 2 ]
	[ "$(jq .blocks.partially_present <<<"$output")" -eq 7 ]
	[ "$(jq .blocks.zero <<<"$output")" -eq 2 ]
	block_has_data base.raw $M 10
	block_has_data base.raw $M 20

	run "$VHDRECOVER" convert child.vhdx out.raw -O raw
	[ "$status" -eq 0 ]
	cmp out.raw child.raw
	# ZERO blocks over parent data read as zeros ([MS-VHDX] 2.5.1.1).
	block_is_zero out.raw $M 10
	block_is_zero out.raw $M 20
	# convert skips the runs the disk reports as zero; read reads every
	# byte, so the two paths check each other.
	"$VHDRECOVER" read child.vhdx 0 64M >read.raw
	cmp read.raw child.raw

	vhdi_mount child.vhdx mnt
	[ "$(basename "$VHDI_TOP")" = vhdi2 ]
	masked_copy "$VHDI_TOP" vhdi.masked $M 10 20
	masked_copy out.raw ours.masked $M 10 20
	cmp ours.masked vhdi.masked
}

@test "info names the same parent linkage as vhdiinfo, and it is the base's DataWriteGuid" {
	make_base
	make_child
	run "$VHDRECOVER" info --json child.vhdx
	[ "$status" -eq 0 ]
	ours=$(guid_of "$(jq -r .parent_locator.entries.parent_linkage <<<"$output")")
	[[ $ours =~ ^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$ ]]
	theirs=$(vhdiinfo child.vhdx | sed -n 's/^[[:space:]]*Parent identifier[[:space:]]*: *//p')
	echo "ours=$ours vhdiinfo=$theirs"
	[ "$ours" = "$(guid_of "$theirs")" ]
	# libvhdi's identifier of the base is its DataWriteGuid.
	base_id=$(vhdiinfo base.vhdx | sed -n 's/^[[:space:]]*Identifier[[:space:]]*: *//p')
	[ "$ours" = "$(guid_of "$base_id")" ]
	run "$VHDRECOVER" info --json base.vhdx
	[ "$status" -eq 0 ]
	[ "$ours" = "$(jq -r .data_write_guid <<<"$output")" ]
}

@test "a three-level chain reads through every level: convert equals mkvhdx and libvhdi" {
	make_base
	# mid: block 0 sectors 0-511, block 1 whole, block 3 64 KiB, 30-32 whole
	mkvhdx mid.vhdx --parent base.vhdx --bitmap-every-chunk \
		--write 0:256K:20 --write $((1 * M)):1M:21 \
		--write $((3 * M)):64K:22 --write $((30 * M)):3M:23 \
		--expect-raw mid.raw
	# top: block 0 sectors 256-767 (half over mid, half over base), block
	# 1 one sector over mid's full block, block 3 over mid's partial one,
	# block 31 partial over mid, block 50 whole over nothing
	mkvhdx top.vhdx --parent mid.vhdx --bitmap-every-chunk \
		--write 128K:256K:30 --write $((1 * M + 4096)):512:31 \
		--write $((3 * M + 32768)):64K:32 \
		--write $((31 * M + 1024)):1024:33 --write $((50 * M)):1M:34 \
		--expect-raw top.raw
	# Every layer shows somewhere, or the test proves less than it says.
	differ top.raw mid.raw
	differ mid.raw base.raw

	run "$VHDRECOVER" convert top.vhdx top.out -O raw
	[ "$status" -eq 0 ]
	cmp top.out top.raw
	run "$VHDRECOVER" convert mid.vhdx mid.out -O raw
	[ "$status" -eq 0 ]
	cmp mid.out mid.raw

	vhdi_mount top.vhdx mnt
	[ "$(basename "$VHDI_TOP")" = vhdi3 ]
	cmp "$VHDI_TOP" top.out
}

@test "4096-byte logical sectors: dynamic and differencing disks convert to mkvhdx's content and libvhdi's view" {
	mkvhdx b4.vhdx --size 64M --logical-sector 4096 --physical-sector 4096 \
		--write 0:2M:1 --write $((8 * M + 4096)):12288:2 \
		--write $((63 * M)):1M:3 --expect-raw b4.raw
	mkvhdx c4.vhdx --parent b4.vhdx --bitmap-every-chunk \
		--write 4096:8192:4 --write $((3 * M)):1M:5 \
		--write $((8 * M + 8192)):4096:6 \
		--write $((63 * M + 1044480)):4096:7 --expect-raw c4.raw
	run "$VHDRECOVER" info --json c4.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq .logical_sector_size <<<"$output")" -eq 4096 ]
	[ "$(jq .parent.logical_sector_size <<<"$output")" -eq 4096 ]
	[ "$(jq .blocks.partially_present <<<"$output")" -eq 3 ]

	run "$VHDRECOVER" convert b4.vhdx b4.out -O raw
	[ "$status" -eq 0 ]
	cmp b4.out b4.raw
	run "$VHDRECOVER" convert c4.vhdx c4.out -O raw
	[ "$status" -eq 0 ]
	cmp c4.out c4.raw

	# libvhdi 20210425 reads 4 KiB-sector VHDX; if a later one stops
	# mounting them, this fails rather than losing its oracle quietly.
	vhdi_mount c4.vhdx mnt
	cmp "$VHDI_TOP" c4.out
	cmp "$(dirname "$VHDI_TOP")/vhdi1" b4.out
}

@test "read of a range straddling partial blocks and a parent block equals the same bytes of the expected image" {
	make_base
	make_child
	# From inside partial block 4 (before its present sectors 3-5), across
	# partial block 5 (sectors 1 and 2047 present) into block 6, which the
	# child does not have: the base's data shows there.
	off=$((4 * M + 1000))
	len=$((2 * M + 50000))
	"$VHDRECOVER" read child.vhdx $off $len >got
	dd if=child.raw iflag=skip_bytes,count_bytes skip=$off count=$len \
		bs=64K status=none >want
	[ "$(stat -c %s got)" -eq $len ]
	cmp got want
	# 20 bytes across the edge of a parent sector and a present sector.
	"$VHDRECOVER" read child.vhdx $((4 * M + 1530)) 20 >got2
	dd if=child.raw iflag=skip_bytes,count_bytes skip=$((4 * M + 1530)) \
		count=20 status=none >want2
	cmp got2 want2
	differ got2 <(dd if=base.raw iflag=skip_bytes,count_bytes \
		skip=$((4 * M + 1530)) count=20 status=none)
}

@test "convert of a child with a missing parent fails and names the parent" {
	make_base
	make_child
	mkdir elsewhere
	mv base.vhdx elsewhere/
	sha256sum child.vhdx >sums
	run --separate-stderr "$VHDRECOVER" convert child.vhdx out.raw -O raw
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.* not found'
	[ ! -e out.raw ]
	[ -z "$(ls | grep '^out\.raw')" ]
	sha256sum -c --quiet sums
	run --separate-stderr "$VHDRECOVER" read child.vhdx 0 512
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.* not found'
}

@test "a parent path naming a FIFO is refused at once, not waited on" {
	make_base
	make_child
	mv base.vhdx real-base.vhdx
	mkfifo base.vhdx
	# A reader that opened the FIFO would block forever: bound it.
	run --separate-stderr timeout 20 "$VHDRECOVER" info child.vhdx
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.*not a regular file'
	run --separate-stderr timeout 20 "$VHDRECOVER" convert child.vhdx out.raw
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.*not a regular file'
	[ ! -e out.raw ]
}

@test "convert of a child whose base was regenerated fails: the parent does not match" {
	make_base
	make_child
	# Same name, same content, new DataWriteGuid: not the child's parent.
	mkvhdx base.vhdx --size 64M --block-size 1M --write 0:8M:1 \
		--write $((10 * M)):64K:2 --write $((20 * M)):2M:3 \
		--write $((40 * M + 512)):4096:4 --write $((63 * M)):1M:5
	sha256sum child.vhdx base.vhdx >sums
	run --separate-stderr "$VHDRECOVER" convert child.vhdx out.raw -O raw
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.* does not match'
	[ ! -e out.raw ]
	sha256sum -c --quiet sums
	# vhdimount refuses it too (libvhdi: "mismatch in identifier").
	mkdir mnt
	if vhdimount child.vhdx mnt >/dev/null 2>&1 3>&-; then
		VR_MOUNTS+=("$T/mnt")
		echo "vhdimount accepted a child whose parent does not match" >&2
		false
	fi
}

@test "--parent opens a child whose base was renamed" {
	make_base
	make_child
	mv base.vhdx renamed-base.vhdx
	run --separate-stderr "$VHDRECOVER" convert child.vhdx out.raw
	assert_one_line_error 'child\.vhdx: parent .*base\.vhdx.* not found'

	run "$VHDRECOVER" convert --parent renamed-base.vhdx child.vhdx out.raw
	[ "$status" -eq 0 ]
	cmp out.raw child.raw
	"$VHDRECOVER" read --parent renamed-base.vhdx child.vhdx 0 1M >head.bin
	cmp head.bin <(head -c $M child.raw)
	run "$VHDRECOVER" info --json --parent renamed-base.vhdx child.vhdx
	[ "$status" -eq 0 ]
	[ "$(basename "$(jq -r .parent.file <<<"$output")")" = renamed-base.vhdx ]

	# The override is still checked against the linkage.
	mkvhdx other.vhdx --size 64M --write 0:1M:9
	run --separate-stderr "$VHDRECOVER" convert --parent other.vhdx child.vhdx out2.raw
	assert_one_line_error 'child\.vhdx: parent .*other\.vhdx.* does not match'
	[ ! -e out2.raw ]
}

@test "two differencing disks that name each other as parent fail with a loop error, not a hang" {
	ga=$(python3 -c 'import uuid; print(uuid.uuid4())')
	gb=$(python3 -c 'import uuid; print(uuid.uuid4())')
	mkvhdx a.vhdx --size 64M --data-write-guid "$ga" --parent-name b.vhdx \
		--parent-linkage-guid "$gb" --write 0:4096:1
	mkvhdx b.vhdx --size 64M --data-write-guid "$gb" --parent-name a.vhdx \
		--parent-linkage-guid "$ga" --write 4096:4096:2
	sha256sum a.vhdx b.vhdx >sums
	for verb in info convert check; do
		run --separate-stderr timeout 60 "$VHDRECOVER" $verb a.vhdx \
			$([ $verb = convert ] && echo out.raw)
		# The loop is seen at b, whose parent would be a again.
		assert_one_line_error 'b\.vhdx: parent chain loops back to .*a\.vhdx'
	done
	[ ! -e out.raw ]
	sha256sum -c --quiet sums

	# A file that names itself.
	gc=$(python3 -c 'import uuid; print(uuid.uuid4())')
	mkvhdx c.vhdx --size 64M --data-write-guid "$gc" --parent-name c.vhdx \
		--parent-linkage-guid "$gc"
	run --separate-stderr timeout 60 "$VHDRECOVER" convert c.vhdx out.raw
	assert_one_line_error 'c\.vhdx: parent chain loops back to .*c\.vhdx'
}

@test "info --json on a chain nests each parent with its file name and type" {
	make_base
	mkvhdx mid.vhdx --parent base.vhdx --write 0:4096:1
	mkvhdx top.vhdx --parent mid.vhdx --write 4096:4096:2
	run --separate-stderr "$VHDRECOVER" info --json top.vhdx
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	j=$output
	[ "$(basename "$(jq -r .file <<<"$j")")" = top.vhdx ]
	[ "$(jq -r .type <<<"$j")" = differencing ]
	[ "$(basename "$(jq -r .parent.file <<<"$j")")" = mid.vhdx ]
	[ "$(jq -r .parent.type <<<"$j")" = differencing ]
	[ "$(basename "$(jq -r .parent.parent.file <<<"$j")")" = base.vhdx ]
	[ "$(jq -r .parent.parent.type <<<"$j")" = dynamic ]
	[ "$(jq -r .parent.parent.parent <<<"$j")" = null ]
	# Each level's linkage names the next level's DataWriteGuid.
	[ "$(guid_of "$(jq -r .parent_locator.entries.parent_linkage <<<"$j")")" = \
		"$(jq -r .parent.data_write_guid <<<"$j")" ]
	[ "$(guid_of "$(jq -r .parent.parent_locator.entries.parent_linkage <<<"$j")")" = \
		"$(jq -r .parent.parent.data_write_guid <<<"$j")" ]
	[ "$(jq -r .parent_locator.entries.relative_path <<<"$j")" = '.\mid.vhdx' ]
}

@test "disks larger than one chunk read across the chunk boundary: BAT interleaving and per-chunk sector bitmaps" {
	# 32 MiB blocks, 512-byte sectors: chunk ratio 128, so a chunk is
	# 4 GiB and block 128 is the first of chunk 1 (BAT entry 129, after
	# the sector bitmap entry of chunk 0). The disk ends 3.5 KiB short
	# of the end of its last block.
	B=$((32 * M))
	size=$((131 * B - 7 * 512))
	mkvhdx big.vhdx --size $size --block-size 32M \
		--write $((126 * B)):1M:8 --write $((127 * B)):1M:1 \
		--write $((128 * B - 4096)):8192:2 \
		--write $((130 * B)):$((B - 7 * 512 - 4096)):3 \
		--expect-raw big.raw
	mkvhdx bigc.vhdx --parent big.vhdx --block-size 32M --bitmap-every-chunk \
		--write $((127 * B + 512)):4096:4 \
		--write $((128 * B + 1024)):2048:5 \
		--write $((129 * B)):$B:6 \
		--write $((130 * B + 8192)):4096:7 --zero-block 126 \
		--expect-raw bigc.raw
	run "$VHDRECOVER" info --json bigc.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq .blocks.chunk_ratio <<<"$output")" -eq 128 ]
	[ "$(jq .blocks.sector_bitmaps_present <<<"$output")" -eq 2 ]
	[ "$(jq .blocks.partially_present <<<"$output")" -eq 3 ]

	run "$VHDRECOVER" convert big.vhdx big.out
	[ "$status" -eq 0 ]
	sparse_cmp big.out big.raw
	run "$VHDRECOVER" convert bigc.vhdx bigc.out
	[ "$status" -eq 0 ]
	sparse_cmp bigc.out bigc.raw

	# libvhdi over the blocks that hold data (126 is ZERO: left out).
	vhdi_mount bigc.vhdx mnt
	cmp -i $((127 * B)) -n $((size - 127 * B)) "$VHDI_TOP" bigc.out
}

@test "a chain of 65 files reads through; one more level is refused as too deep" {
	# f0 (dynamic) <- f1 <- ... <- f65; level i writes sector 8i. The
	# reader follows at most 64 parents (VHDX_MAX_CHAIN_DEPTH).
	python3 - "$MKVHDX" <<'PY'
import importlib.util, random, sys, uuid
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location("mkvhdx", sys.argv[1])
mk = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mk)
guids = [str(uuid.uuid4()) for _ in range(66)]
want = bytearray(16 << 20)
for i in range(66):
    args = ["f%d.vhdx" % i, "--size", "16M", "--data-write-guid", guids[i],
            "--write", "%d:512:%d" % (i * 4096, i)]
    if i:
        args += ["--parent-name", "f%d.vhdx" % (i - 1),
                 "--parent-linkage-guid", guids[i - 1]]
    assert mk.main(args) == 0
    if i <= 64:
        want[i * 4096:i * 4096 + 512] = random.Random(i).randbytes(512)
open("f64.raw", "wb").write(want)
PY
	run "$VHDRECOVER" convert f64.vhdx f64.out
	[ "$status" -eq 0 ]
	cmp f64.out f64.raw
	run --separate-stderr timeout 60 "$VHDRECOVER" convert f65.vhdx f65.out
	assert_one_line_error 'f65\.vhdx: parent chain deeper than 64 files'
	[ ! -e f65.out ]
}

#!/usr/bin/env bats
# badinput.bats - damaged, truncated and dirty VHDX files. Every case checks
# the three things STYLE.md section 9 asks of a bad-input test: the exit
# code, the one-line message naming the file and the problem, and that no
# file on disk changed. Exit 1 (not a signal or 134) also means no crash; a
# sanitizer build turns memory errors into crashes.
#
# The damaged files come from tests/tools/mkvhdx.py --corrupt KIND (see its
# --help: one structural problem per KIND), the dirty log from the QEMU
# sample in tests/corpus/qemu/.
#
# Run by `make check` (which exports VHDRECOVER and TOP_SRCDIR), or by hand
# from the top of the tree: bats tests/integ/badinput.bats

load helpers

MKVHDX=$TOP_SRCDIR/tests/tools/mkvhdx.py
M=$((1024 * 1024))

# ---- helpers of this file (shared ones come from helpers.bash) ----

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

mkvhdx()
{
	python3 "$MKVHDX" "$@"
}

# make_bad KIND: bad.vhdx, broken by mkvhdx --corrupt KIND, and bad.raw,
# what it would read as unbroken. The differencing kinds get base.vhdx as
# their parent.
make_bad()
{
	case $1 in
	partial-without-bitmap | parent-linkage-mismatch)
		mkvhdx base.vhdx --size 64M --write 0:2M:1 --expect-raw base.raw
		mkvhdx bad.vhdx --parent base.vhdx --write 4096:4096:2 \
			--write 1M:1M:3 --corrupt "$1" --expect-raw bad.raw
		;;
	*)
		mkvhdx bad.vhdx --size 64M --write 0:1M:1 \
			--write $((M + 4096)):8192:2 --write 63M:1M:3 \
			--corrupt "$1" --expect-raw bad.raw
		;;
	esac
}

# run_verb VERB FILE: run one read-only verb on FILE (convert writes out.raw)
run_verb()
{
	if [ "$1" = convert ]; then
		run --separate-stderr "$VHDRECOVER" convert "$2" out.raw
	else
		run --separate-stderr "$VHDRECOVER" "$1" "$2"
	fi
}

# expect_refused FILE REGEX: info, convert and check each exit 1 with one
# line naming FILE and matching REGEX; convert leaves no output or temp
# file behind; no file in the directory changes.
expect_refused()
{
	local file=$1 re=$2 verb

	sha256sum -- *.vhdx >sums
	for verb in info convert check; do
		run_verb $verb "$file"
		echo "verb: $verb"
		assert_one_line_error "${file//./\\.}: .*($re)"
	done
	[ -z "$(ls -a | grep '^out\.raw')" ]
	sha256sum -c --quiet sums
}

# ---- damaged structures: one mkvhdx --corrupt KIND each ----

@test "a damaged header 1 is survived: info and convert read header 2, check warns about header 1" {
	make_bad header1-crc
	sha256sum bad.vhdx >sums
	run --separate-stderr "$VHDRECOVER" info --json bad.vhdx
	[ "$status" -eq 0 ]
	# Header 1 is the newer copy but fails its checksum: header 2 it is.
	[ "$(jq .header.current <<<"$output")" -eq 2 ]
	run --separate-stderr "$VHDRECOVER" convert bad.vhdx out.raw
	[ "$status" -eq 0 ]
	cmp out.raw bad.raw
	run --separate-stderr "$VHDRECOVER" check bad.vhdx
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ $output =~ warning:\ bad\.vhdx:\ header\ 1\ .*damaged ]]
	sha256sum -c --quiet sums
}

@test "a damaged region table 1 is survived: info and convert use table 2, check warns about table 1" {
	make_bad region1-crc
	sha256sum bad.vhdx >sums
	run --separate-stderr "$VHDRECOVER" info bad.vhdx
	[ "$status" -eq 0 ]
	# Table 1 points the BAT 1 MiB off: reading through it would not
	# give bad.raw.
	run --separate-stderr "$VHDRECOVER" convert bad.vhdx out.raw
	[ "$status" -eq 0 ]
	cmp out.raw bad.raw
	run --separate-stderr "$VHDRECOVER" check bad.vhdx
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ $output =~ warning:\ bad\.vhdx:\ region\ table\ 1\ .*damaged ]]
	sha256sum -c --quiet sums
}

@test "both headers failing their checksum is refused with a checksum message" {
	make_bad both-headers-crc
	expect_refused bad.vhdx 'header.*checksum'
}

@test "both region tables failing their checksum is refused with a checksum message" {
	make_bad both-regions-crc
	expect_refused bad.vhdx 'region table.*checksum'
}

@test "an unknown region marked required is refused and named" {
	make_bad unknown-required-region
	expect_refused bad.vhdx 'unknown required region 5c1f6b34-8a0e-4d7b-9e21-3f60c0de0001'
}

@test "a metadata table without the required virtual disk size item is refused" {
	make_bad missing-required-metadata
	expect_refused bad.vhdx 'required item virtual disk size is missing'
}

@test "a block size that is not a power of 2 (3 MiB) is refused" {
	make_bad block-size-not-pow2
	expect_refused bad.vhdx 'block size 3145728 '
}

@test "a block size above 256 MiB (512 MiB) is refused" {
	make_bad block-size-too-big
	expect_refused bad.vhdx 'block size 536870912 '
}

@test "a BAT entry pointing past the end of the file is refused" {
	make_bad bat-past-eof
	expect_refused bad.vhdx 'BAT entry 0: .*past end of file'
}

@test "a BAT entry pointing into the metadata region is refused as an overlap" {
	make_bad bat-in-metadata
	expect_refused bad.vhdx 'BAT entry 0: block at 0x200000 overlaps'
}

@test "two BAT entries pointing at the same block are refused as an overlap" {
	make_bad bat-overlap
	expect_refused bad.vhdx 'BAT entry [01]: .*overlaps BAT entry [01]'
}

@test "a payload block in reserved state 4 is refused" {
	make_bad bat-reserved-state
	expect_refused bad.vhdx 'BAT entry 0: .*reserved state 4'
}

@test "a partially present block whose chunk has no sector bitmap is refused" {
	make_bad partial-without-bitmap
	expect_refused bad.vhdx 'partially present .*bitmap'
}

@test "a parent whose DataWriteGuid differs from parent_linkage is refused" {
	make_bad parent-linkage-mismatch
	expect_refused bad.vhdx 'parent .*base\.vhdx.* does not match'
}

@test "a VHDX whose file type identifier is damaged is refused by every verb, not read as raw" {
	make_bad bad-file-id
	sha256sum bad.vhdx >sums
	# Headers and region tables are intact, so the file is still known as
	# a VHDX and refused, never copied out as if it were a raw disk.
	for verb in check info convert; do
		rm -f out.raw
		if [ "$verb" = convert ]; then
			run --separate-stderr "$VHDRECOVER" convert bad.vhdx out.raw
		else
			run --separate-stderr "$VHDRECOVER" "$verb" bad.vhdx
		fi
		assert_one_line_error 'bad\.vhdx: bad file type identifier'
		[ ! -e out.raw ]
	done
	run --separate-stderr "$VHDRECOVER" info --json bad.vhdx
	[ "$status" -eq 1 ]
	[ "$(jq -r .error.errno <<<"$output")" = EUCLEAN ]
	sha256sum -c --quiet sums
}

# ---- truncated files ----

@test "a disk truncated anywhere is refused as truncated or past end of file, never read short" {
	# dynamic, 64 MiB: data in blocks 0, 1 and 63; block 63 is the last
	# thing in the file.
	mkvhdx good.vhdx --size 64M --write 0:1M:1 --write $((M + 4096)):8192:2 \
		--write 63M:1M:3 --expect-raw good.raw
	size=$(stat -c %s good.vhdx)
	# The good file opens: the failures below come from the truncation.
	run "$VHDRECOVER" convert good.vhdx good.out
	[ "$status" -eq 0 ]
	cmp good.out good.raw
	rm good.out
	# file id, header 1, region table 1, log, metadata, BAT, last block
	for len in 100 $((64 * 1024 + 100)) $((192 * 1024 + 100)) \
		$((M + 100)) $((2 * M + 100)) $((3 * M + 100)) \
		$((size - M + 100)) $((size - 1)); do
		echo "length: $len"
		cp good.vhdx cut.vhdx
		truncate -s $len cut.vhdx
		expect_refused cut.vhdx 'truncated|past end of file'
	done
}

# ---- the log ----

# corrupt_log_entry FILE WHICH: flip one byte inside the data sector of a
# log entry ("loge", [MS-VHDX] 2.3.1) of FILE. WHICH is "active" (the entry
# carrying the header's LogGuid) or "stale" (the first entry with another
# LogGuid). Prints the file offset of the flipped byte.
corrupt_log_entry()
{
	python3 - "$1" "$2" <<'EOF'
import struct, sys
path, which = sys.argv[1], sys.argv[2]
with open(path, "r+b") as f:
    def pread(off, n):
        f.seek(off)
        return f.read(n)
    headers = []
    for off in (0x10000, 0x20000):
        h = pread(off, 4096)
        if h[:4] == b"head":
            headers.append((struct.unpack_from("<Q", h, 8)[0], h))
    h = max(headers)[1]
    log_guid = h[48:64]
    log_length, log_offset = struct.unpack_from("<IQ", h, 68)
    for pos in range(0, log_length, 4096):
        e = pread(log_offset + pos, 64)
        if e[:4] != b"loge":
            continue
        if (e[32:48] == log_guid) != (which == "active"):
            continue
        entry_length = struct.unpack_from("<I", e, 8)[0]
        assert entry_length >= 8192, "entry without a data sector"
        target = log_offset + pos + 4096 + 100  # inside the data sector
        b = pread(target, 1)
        f.seek(target)
        f.write(bytes([b[0] ^ 0xFF]))
        print(target)
        sys.exit(0)
sys.exit("no %s log entry in %s" % (which, path))
EOF
}

@test "a dirty log whose active entry is damaged is refused with a log message, and nothing is written" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 pristine.vhdx
	cp pristine.vhdx dirty.vhdx
	# The pristine copy replays in memory: the failure below is the damage.
	sha256sum pristine.vhdx >pristine.sum
	run "$VHDRECOVER" info --json pristine.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq .log.entries_to_replay <<<"$output")" -eq 1 ]
	[ "$(jq .log.replayed_in_memory <<<"$output")" = true ]
	[ "$(jq .blocks.fully_present <<<"$output")" -eq 18 ]
	run "$VHDRECOVER" convert pristine.vhdx pristine.out
	[ "$status" -eq 0 ]
	run "$VHDRECOVER" check pristine.vhdx
	[ "$status" -eq 0 ]
	rm pristine.out
	# Read-only commands replay in memory only: the file is untouched.
	sha256sum -c --quiet pristine.sum

	off=$(corrupt_log_entry dirty.vhdx active)
	[ "$(cmp -l pristine.vhdx dirty.vhdx | wc -l)" -eq 1 ]
	[ "$(cmp pristine.vhdx dirty.vhdx | sed 's/.*byte \([0-9]*\),.*/\1/')" -eq $((off + 1)) ]
	rm pristine.vhdx
	expect_refused dirty.vhdx 'log'
}

@test "a damaged stale log entry does not stop the replay of the active one" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 dirty.vhdx
	corrupt_log_entry dirty.vhdx stale
	sha256sum dirty.vhdx >sums
	run "$VHDRECOVER" info --json dirty.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq .log.entries_to_replay <<<"$output")" -eq 1 ]
	[ "$(jq .blocks.fully_present <<<"$output")" -eq 18 ]
	run "$VHDRECOVER" convert dirty.vhdx out.raw
	[ "$status" -eq 0 ]
	sha256sum -c --quiet sums
}

#!/usr/bin/env bats
# corpus.bats - every image of tests/corpus (see its README) read by
# vhdrecover and by two readers that share no code with it: qemu-img and
# libvhdi's vhdiinfo. The README's ground-truth SHA-256 values pin qemu-img
# too, so a change in either tool shows up here.
#
# Run by `make check`, or by hand from the top of the source tree:
#   bats --tap tests/integ/corpus.bats

load helpers

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

# ---- helpers of this file ----

# name_of REL: the decompressed file name of corpus file REL.
name_of()
{
	local b=${1##*/}

	b=${b%.gz}
	b=${b%.bz2}
	echo "${b%.xz}"
}

# vhdi_field FILE LABEL: the value vhdiinfo prints for LABEL.
vhdi_field()
{
	vhdiinfo "$1" | sed -n "s/^[[:space:]]*$2[[:space:]]*: //p" | head -n 1
}

# vhdi_media_size FILE: the media size in bytes vhdiinfo reports.
vhdi_media_size()
{
	vhdi_field "$1" 'Media size' | sed -n 's/.*(\([0-9]*\) bytes).*/\1/p'
}

# vhdi_type FILE: vhdiinfo's disk type in our words.
vhdi_type()
{
	case $(vhdi_field "$1" 'Disk type') in
	Fixed) echo fixed ;;
	Dynamic) echo dynamic ;;
	Differential) echo differencing ;;
	*) echo "unknown vhdiinfo disk type" ;;
	esac
}

# expect_eq WHAT EXPECTED ACTUAL: fail with a message naming WHAT; an empty
# EXPECTED fails too, so a silent oracle cannot make a test pass.
expect_eq()
{
	if [[ -z $2 ]]; then
		echo "$1: no expected value (did the oracle fail?)"
		return 1
	fi
	if [[ $2 != "$3" ]]; then
		echo "$1: expected '$2', got '$3'"
		return 1
	fi
}

# convert_matches_qemu REL QEMU_FORMAT SHA256: vhdrecover convert of REL
# is byte-identical to qemu-img convert of it, and both are the README's
# virtual-content hash (cmp pins ours to qemu's, the hash pins ours, so
# qemu's too).
convert_matches_qemu()
{
	local f

	f=$(name_of "$1")
	corpus_extract "$1" "$f"
	run --separate-stderr "$VHDRECOVER" convert "$f" ours.raw -O raw
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	qemu-img convert -f "$2" -O raw "$f" qemu.raw
	same_bytes ours.raw qemu.raw
	expect_eq "SHA-256 of vhdrecover convert of $f" "$3" \
		"$(sha_of ours.raw)"
}

# info_matches_vhdx_oracles REL [QEMU_FILE]: vhdrecover info --json agrees
# with vhdiinfo (type, media size, sector size, identifier = DataWriteGuid
# in libvhdi) and with qemu-img info of QEMU_FILE (REL itself by default;
# a repaired copy for the dirty images): virtual size, cluster size, format.
info_matches_vhdx_oracles()
{
	local f q j

	f=$(name_of "$1")
	[[ -f $f ]] || corpus_extract "$1" "$f"
	q=${2:-$f}
	run --separate-stderr "$VHDRECOVER" info --json "$f"
	[ "$status" -eq 0 ]
	j=$output
	expect_eq "format" vhdx "$(jq -r .format <<<"$j")"
	expect_eq "type (vhdiinfo)" "$(vhdi_type "$f")" \
		"$(jq -r .type <<<"$j")"
	expect_eq "virtual size (vhdiinfo)" "$(vhdi_media_size "$f")" \
		"$(jq -r .virtual_size <<<"$j")"
	expect_eq "logical sector size (vhdiinfo)" \
		"$(vhdi_field "$f" 'Bytes per sector' | cut -d' ' -f1)" \
		"$(jq -r .logical_sector_size <<<"$j")"
	expect_eq "data write guid (vhdiinfo Identifier)" \
		"$(vhdi_field "$f" Identifier)" \
		"$(jq -r .data_write_guid <<<"$j")"
	qemu_json "$q" -f vhdx >q.json
	expect_eq "virtual size (qemu-img)" "$(jq -r '."virtual-size"' q.json)" \
		"$(jq -r .virtual_size <<<"$j")"
	expect_eq "block size (qemu-img cluster-size)" \
		"$(jq -r '."cluster-size"' q.json)" \
		"$(jq -r .block_size <<<"$j")"
	expect_eq "format (qemu-img)" vhdx "$(jq -r .format q.json)"
}

# info_matches_vhd_oracles REL [STATUS]: for a VHD, vhdrecover info --json
# (exit STATUS, 0 by default) reports what vhdiinfo does: format, disk type,
# media size (our current_size: libvhdi always takes the footer's current
# size), bytes per sector and identifier; and what qemu-img info -f vpc
# does: the virtual size (the CHS or current size by the creator) and the
# block size (cluster-size, absent for a fixed disk). The text output has
# the same type and identifier.
info_matches_vhd_oracles()
{
	local f j

	f=$(name_of "$1")
	corpus_extract "$1" "$f"
	run --separate-stderr "$VHDRECOVER" info --json "$f"
	[ "$status" -eq "${2:-0}" ]
	j=$output
	expect_eq "format" vhd "$(jq -r .format <<<"$j")"
	expect_eq "type (vhdiinfo)" "$(vhdi_type "$f")" \
		"$(jq -r .type <<<"$j")"
	expect_eq "current size (vhdiinfo media size)" "$(vhdi_media_size "$f")" \
		"$(jq -r .current_size <<<"$j")"
	expect_eq "bytes per sector (vhdiinfo)" \
		"$(vhdi_field "$f" 'Bytes per sector' | cut -d' ' -f1)" \
		"$(jq -r .bytes_per_sector <<<"$j")"
	expect_eq "identifier (vhdiinfo)" "$(vhdi_field "$f" Identifier)" \
		"$(jq -r .identifier <<<"$j")"
	qemu_json "$f" -f vpc >q.json
	expect_eq "virtual size (qemu-img)" "$(jq -r '."virtual-size"' q.json)" \
		"$(jq -r .virtual_size <<<"$j")"
	expect_eq "block size (qemu-img cluster-size)" \
		"$(jq -r '."cluster-size" // 0' q.json)" \
		"$(jq -r .block_size <<<"$j")"
	expect_eq "format (qemu-img)" vpc "$(jq -r .format q.json)"

	run --separate-stderr "$VHDRECOVER" info "$f"
	[ "$status" -eq "${2:-0}" ]
	[[ $output == *"format:            vhd"$'\n'* ]]
	[[ $output == *"type:              $(vhdi_type "$f")"$'\n'* ]]
	[[ $output == *"identifier:        $(vhdi_field "$f" Identifier)"* ]]
	[[ $output == *"bytes per sector:  512 bytes"$'\n'* ]]
}

# zeros N: N zero bytes on stdout.
zeros()
{
	head -c "$1" /dev/zero
}

# big_sparse_vhd REL SIZE: for the 127 GiB all-zero VHDs, where hashing
# the whole disk is too slow: the virtual size is SIZE in info, in
# qemu-img info and in the convert output; the output is all holes; it is
# identical to qemu-img's output (qemu-img compare looks at the data runs
# of both raw files and reads the rest as zeros); sampled ranges read as
# zeros through `read`, in our output and in qemu's; the disk ends at SIZE.
big_sparse_vhd()
{
	local f size=$2 off len kb

	f=$(name_of "$1")
	corpus_extract "$1" "$f"
	run --separate-stderr "$VHDRECOVER" info --json "$f"
	[ "$status" -eq 0 ]
	expect_eq "info virtual size" "$size" "$(jq -r .virtual_size <<<"$output")"
	expect_eq "qemu-img virtual size" "$size" \
		"$(qemu_json "$f" -f vpc | jq -r '."virtual-size"')"

	run --separate-stderr "$VHDRECOVER" convert "$f" ours.raw -O raw
	[ "$status" -eq 0 ]
	expect_eq "size of the convert output" "$size" "$(stat -c %s ours.raw)"
	kb=$(du -k ours.raw | cut -f1)
	if ((kb > 64)); then
		echo "convert output is not sparse: $kb KiB allocated"
		return 1
	fi
	qemu-img convert -f vpc -O raw "$f" qemu.raw
	run qemu-img compare -f raw -F raw ours.raw qemu.raw
	[ "$status" -eq 0 ]

	# First sector, a run across the first block boundary, one across a
	# boundary in the middle, and the last 64 KiB of the disk (for the
	# Hyper-V file that is past the CHS size, where only current_size
	# says the disk goes on).
	for off in 0 $((2 * 1024 * 1024 - 4096)) \
		$((size / 2 / 2097152 * 2097152 - 512)) $((size - 65536)); do
		len=$(((off == 0) ? 512 : (off == size - 65536) ? 65536 : 8192))
		"$VHDRECOVER" read "$f" "$off" "$len" >r.bin
		zeros "$len" >z.bin
		same_bytes r.bin z.bin
		file_range ours.raw "$off" "$len" >o.bin
		same_bytes o.bin z.bin
		file_range qemu.raw "$off" "$len" >q.bin
		same_bytes q.bin z.bin
	done
	run --separate-stderr "$VHDRECOVER" read "$f" "$size" 512
	assert_one_line_error "$f: range .* is outside the disk \\($size bytes\\)"
}

# ---- the corpus itself ----

@test "corpus files decompress to the README's SHA-256" {
	local rel sum
	while read -r rel sum; do
		corpus_extract "$rel" img
		expect_eq "SHA-256 of $rel decompressed" "$sum" "$(sha_of img)"
		rm -f img
	done <<'EOF'
qemu/iotest-dynamic-1G.vhdx.bz2 a4fb24fa51fb4852d5a6bdc2b390a91b0a4e19b47696edc5a00c816067257402
qemu/test-disk2vhd.vhdx.bz2 5b6721d4f26ef13d259c380a7327b794d1c6dd79e386737d77e8d88f43259812
qemu/iotest-dirtylog-10G-4M.vhdx.bz2 511daba998dba208ffc57a7814194d5dd3afb7c314731b904ff1682e3fb4951a
dissect/fixed.vhdx.gz f2d743755f1872335fb1554116feecda67825719080ebb875b97dfacf7c1f590
dissect/dynamic.vhdx.gz 72e9aa1af9cc53c84585a8017246f14f7c9f2dd54bb3f52e3b70919b2af600b9
dissect/differencing.avhdx.gz a4bf6f9ccaaf8f90b0e9a5b6f964e2b21ca3a9b1675c3a92e73206b04cfb1fbf
adiskreader/small_ntfs_test.vhdx.gz 92b461ef2e0b42b83349083a7e040895d35d1b51e25c5ed03517b4d825cde41c
qemu/hyperv2012r2-dynamic.vhd.bz2 1340b8a51517ba5f0112c47694f3c8a4a2bb4f9933336a18cf0392f3490c6674
qemu/virtualpc-dynamic.vhd.bz2 7675fd9bcc5f705f69e69a2c5e948d2a6522eaac044540a0782ae6097a458d6a
qemu/d2v-zerofilled.vhd.bz2 af175e3c442b659e26b91029aacf2e62f2f7cf054404446db3185aafc38e079f
dissect/fixed.vhd.gz 80220c551144b2a5d0b1186bd86c48440b0be1c7084550ae057b5b371ee2fdc8
dissect/dynamic.vhd.gz c480b888eb23659772bc4b669a79f1850430e74b4ae5011a68195446a49a67e1
dfvfs/fat-differential.vhd.xz 17032553d22ecc1fbde8dbac6f21b320c73d09eb2b118e7cf8d3624ce7b7eed4
EOF
}

# ---- convert: the same bytes as qemu-img, and the README's hash ----

@test "convert of iotest-dynamic-1G.vhdx (Hyper-V, ZERO blocks) equals qemu-img convert" {
	convert_matches_qemu qemu/iotest-dynamic-1G.vhdx.bz2 vhdx \
		d3d112d8dab7fd360609f7d5a7b769904b7a2a7d7b6b8c535f65a23293c05478
}

@test "convert of test-disk2vhd.vhdx (equal header sequence numbers) equals qemu-img convert" {
	convert_matches_qemu qemu/test-disk2vhd.vhdx.bz2 vhdx \
		96d964042be9b58dda1725567abfb0cf9fd8380e2118754afa979c2ad445938a
}

@test "convert of fixed.vhdx equals qemu-img convert" {
	convert_matches_qemu dissect/fixed.vhdx.gz vhdx \
		bc0be4623b15aa84216fb31ba24e3b621ec7f1c72d198c990ac0eced222d9f62
}

@test "convert of dynamic.vhdx (block larger than the disk) equals qemu-img convert" {
	convert_matches_qemu dissect/dynamic.vhdx.gz vhdx \
		8e2b5e9265d694b42b81819e3bff29770eff4ed0f4f9f311693ff3dbdc93efac
}

@test "convert of d2v-zerofilled.vhd (size from current_size, not CHS) equals qemu-img convert" {
	convert_matches_qemu qemu/d2v-zerofilled.vhd.bz2 vpc \
		1ba076be94a8a64541c25aae8d5a5f8b0da758c3797af597e03acb431ff8d143
}

@test "convert of fixed.vhd (footer only) equals qemu-img convert -f vpc" {
	convert_matches_qemu dissect/fixed.vhd.gz vpc \
		459325ab1fcd1d5ec9854cba790ee26378317cda177ffc1072008a1df88e6463
}

@test "convert of dynamic.vhd (sparse VHD) equals qemu-img convert" {
	convert_matches_qemu dissect/dynamic.vhd.gz vpc \
		ecff2ef6615a3cddc6a6885f1c6d9cf13a232697e1dc6575f2c2f01f57247784
}

@test "hyperv2012r2-dynamic.vhd (win creator) is 127 GiB by current_size, all zeros and sparse, like qemu-img" {
	big_sparse_vhd qemu/hyperv2012r2-dynamic.vhd.bz2 136365211648
}

@test "virtualpc-dynamic.vhd (vpc creator) is 127 GiB by CHS, all zeros and sparse, like qemu-img" {
	big_sparse_vhd qemu/virtualpc-dynamic.vhd.bz2 136363130880
}

@test "a fixed VHD is recognised by its footer, where qemu-img's probe says raw" {
	corpus_extract dissect/fixed.vhd.gz fixed.vhd
	expect_eq "qemu-img probe" raw "$(qemu_json fixed.vhd | jq -r .format)"
	run --separate-stderr "$VHDRECOVER" info --json fixed.vhd
	[ "$status" -eq 0 ]
	expect_eq "format" vhd "$(jq -r .format <<<"$output")"
	# The footer is not part of the disk: 10 MiB, not 10 MiB + 512.
	expect_eq "virtual size" 10485760 "$(jq -r .virtual_size <<<"$output")"
}

# ---- info: the same facts as vhdiinfo and qemu-img info ----

@test "info of iotest-dynamic-1G.vhdx agrees with vhdiinfo and qemu-img info" {
	info_matches_vhdx_oracles qemu/iotest-dynamic-1G.vhdx.bz2
}

@test "info of test-disk2vhd.vhdx agrees with vhdiinfo and qemu-img info" {
	info_matches_vhdx_oracles qemu/test-disk2vhd.vhdx.bz2
}

@test "info of fixed.vhdx agrees with vhdiinfo and qemu-img info" {
	info_matches_vhdx_oracles dissect/fixed.vhdx.gz
	run "$VHDRECOVER" info --json fixed.vhdx
	expect_eq "leave_blocks_allocated" true \
		"$(jq -r .leave_blocks_allocated <<<"$output")"
	expect_eq "virtual disk id (README Page83)" \
		4a49d245-db0a-4634-9818-9f93db5ba6c1 \
		"$(jq -r .virtual_disk_id <<<"$output")"
}

@test "info of dynamic.vhdx agrees with vhdiinfo and qemu-img info" {
	info_matches_vhdx_oracles dissect/dynamic.vhdx.gz
	run "$VHDRECOVER" info --json dynamic.vhdx
	# One 32 MiB block covers the whole 10 MiB disk.
	expect_eq "BAT entries" 1 "$(jq -r .blocks.bat_entries <<<"$output")"
}

@test "info of iotest-dirtylog-10G-4M.vhdx agrees with vhdiinfo and with qemu-img info after replay" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 iotest-dirtylog-10G-4M.vhdx
	cp iotest-dirtylog-10G-4M.vhdx copy.vhdx
	qemu-img check -q -r all copy.vhdx
	info_matches_vhdx_oracles qemu/iotest-dirtylog-10G-4M.vhdx.bz2 copy.vhdx
}

@test "info of small_ntfs_test.vhdx agrees with vhdiinfo and with qemu-img info after replay" {
	corpus_extract adiskreader/small_ntfs_test.vhdx.gz small_ntfs_test.vhdx
	cp small_ntfs_test.vhdx copy.vhdx
	qemu-img check -q -r all copy.vhdx
	info_matches_vhdx_oracles adiskreader/small_ntfs_test.vhdx.gz copy.vhdx
}

@test "info of d2v-zerofilled.vhd agrees with vhdiinfo and qemu-img info" {
	info_matches_vhd_oracles qemu/d2v-zerofilled.vhd.bz2
}

@test "info of fixed.vhd agrees with vhdiinfo and qemu-img info -f vpc" {
	info_matches_vhd_oracles dissect/fixed.vhd.gz
}

@test "info of dynamic.vhd agrees with vhdiinfo and qemu-img info" {
	info_matches_vhd_oracles dissect/dynamic.vhd.gz
}

@test "info of hyperv2012r2-dynamic.vhd agrees with vhdiinfo and qemu-img info" {
	info_matches_vhd_oracles qemu/hyperv2012r2-dynamic.vhd.bz2
}

@test "info of virtualpc-dynamic.vhd agrees with vhdiinfo and qemu-img info" {
	info_matches_vhd_oracles qemu/virtualpc-dynamic.vhd.bz2
}

@test "info of virtualpc-dynamic.vhd takes the CHS size like qemu-img, where vhdiinfo takes current_size" {
	corpus_extract qemu/virtualpc-dynamic.vhd.bz2 v.vhd
	run --separate-stderr "$VHDRECOVER" info --json v.vhd
	[ "$status" -eq 0 ]
	expect_eq "virtual size (qemu-img)" \
		"$(qemu_json v.vhd -f vpc | jq -r '."virtual-size"')" \
		"$(jq -r .virtual_size <<<"$output")"
	# The README's known disagreement: libvhdi uses current_size, which
	# is 2,080,768 bytes more than the CHS size.
	expect_eq "vhdiinfo media size" 136365211648 "$(vhdi_media_size v.vhd)"
	expect_eq "virtual size" 136363130880 "$(jq -r .virtual_size <<<"$output")"
	expect_eq "current size" 136365211648 "$(jq -r .current_size <<<"$output")"
	expect_eq "creator" "vpc " "$(jq -r .creator <<<"$output")"
	# 65278 x 16 x 255 x 512 = 136363130880
	expect_eq "geometry" 65278/16/255 \
		"$(jq -r '.geometry | "\(.cylinders)/\(.heads)/\(.sectors)"' <<<"$output")"
}

# ---- the two images with a log to replay ----

# dirty_convert_matches_qemu REL SHA256: convert of the dirty REL equals
# qemu-img convert of a copy that `qemu-img check -r all` replayed, and the
# README's after-replay hash.
dirty_convert_matches_qemu()
{
	local f

	f=$(name_of "$1")
	corpus_extract "$1" "$f"
	run --separate-stderr "$VHDRECOVER" convert "$f" ours.raw -O raw
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	cp "$f" copy.vhdx
	run qemu-img check -r all copy.vhdx
	[ "$status" -eq 0 ]
	[[ $output == *"1 corruptions"* ]]
	qemu-img convert -f vhdx -O raw copy.vhdx qemu.raw
	expect_eq "size of the convert output" "$(stat -c %s qemu.raw)" \
		"$(stat -c %s ours.raw)"
	# Sparse-aware but complete: compare reads every data run of both
	# files, and checks that the other side is zero where one has a hole.
	run qemu-img compare -f raw -F raw ours.raw qemu.raw
	echo "$output"
	[ "$status" -eq 0 ]
	expect_eq "SHA-256 of vhdrecover convert of $f" "$2" "$(sha_of ours.raw)"
}

@test "convert of iotest-dirtylog-10G-4M.vhdx replays the log like qemu-img check -r all" {
	dirty_convert_matches_qemu qemu/iotest-dirtylog-10G-4M.vhdx.bz2 \
		179cefe8b0587f123393eedf2aa7aa8d25798591178e6bc3950a09762f38f96f
}

@test "convert of small_ntfs_test.vhdx replays the Windows log like qemu-img check -r all" {
	dirty_convert_matches_qemu adiskreader/small_ntfs_test.vhdx.gz \
		759cc6aaf5af4887c977d8b0638e3f6567dea807a0b1b0cc7310bcaec36ed2fc
	# Ignoring the log gives 40 MiB of zeros; the log is what holds the data.
	local ignored=80a3721188e40218b08b26776bc53bdae81e4784fff71d71450a197319cba113
	[ "$(sha_of ours.raw)" != "$ignored" ]
	expect_eq "SHA-256 of 40 MiB of zeros" "$ignored" \
		"$(zeros 41943040 | sha256sum | cut -d' ' -f1)"
}

# read_only_verbs_keep FILE: info, check, convert and read of FILE leave it
# byte-identical (and its size and mtime as they were).
read_only_verbs_keep()
{
	local f=$1 before after stat_before

	before=$(sha_of "$f")
	stat_before=$(stat -c '%s %Y' "$f")
	"$VHDRECOVER" info "$f" >/dev/null
	"$VHDRECOVER" info --json "$f" >/dev/null
	"$VHDRECOVER" check "$f" >/dev/null
	"$VHDRECOVER" check --json "$f" >/dev/null
	"$VHDRECOVER" convert --no-progress "$f" out.raw
	"$VHDRECOVER" read "$f" 0 1M >/dev/null
	after=$(sha_of "$f")
	expect_eq "SHA-256 of $f after info/check/convert/read" "$before" "$after"
	expect_eq "size and mtime of $f" "$stat_before" "$(stat -c '%s %Y' "$f")"
}

@test "info, check, convert and read leave iotest-dirtylog-10G-4M.vhdx unchanged" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 d.vhdx
	touch -d '2020-01-01 00:00:00' d.vhdx
	read_only_verbs_keep d.vhdx
	expect_eq "SHA-256 (README)" \
		511daba998dba208ffc57a7814194d5dd3afb7c314731b904ff1682e3fb4951a \
		"$(sha_of d.vhdx)"
}

@test "info, check, convert and read leave small_ntfs_test.vhdx unchanged" {
	corpus_extract adiskreader/small_ntfs_test.vhdx.gz d.vhdx
	touch -d '2020-01-01 00:00:00' d.vhdx
	read_only_verbs_keep d.vhdx
	expect_eq "SHA-256 (README)" \
		92b461ef2e0b42b83349083a7e040895d35d1b51e25c5ed03517b4d825cde41c \
		"$(sha_of d.vhdx)"
}

@test "info reports the log of iotest-dirtylog-10G-4M.vhdx replayed in memory" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 d.vhdx
	run --separate-stderr "$VHDRECOVER" info --json d.vhdx
	[ "$status" -eq 0 ]
	expect_eq "log.replayed_in_memory" true \
		"$(jq -r .log.replayed_in_memory <<<"$output")"
	# README: one entry (seq 7) carries the current LogGuid.
	expect_eq "log.entries_to_replay" 1 \
		"$(jq -r .log.entries_to_replay <<<"$output")"
	[ "$(jq -r .log.guid <<<"$output")" != 00000000-0000-0000-0000-000000000000 ]
	# README: FULLY_PRESENT blocks go from 17 to 18 after replay.
	expect_eq "fully present blocks" 18 \
		"$(jq -r .blocks.fully_present <<<"$output")"
	run "$VHDRECOVER" info d.vhdx
	[ "$status" -eq 0 ]
	[[ $output == *"replayed in memory, file not changed"* ]]
}

@test "info reports the Windows log of small_ntfs_test.vhdx replayed in memory" {
	corpus_extract adiskreader/small_ntfs_test.vhdx.gz d.vhdx
	run --separate-stderr "$VHDRECOVER" info --json d.vhdx
	[ "$status" -eq 0 ]
	expect_eq "log.replayed_in_memory" true \
		"$(jq -r .log.replayed_in_memory <<<"$output")"
	expect_eq "log.guid (README)" 74e4656e-3b1d-48f9-bfa4-02aa776db03c \
		"$(jq -r .log.guid <<<"$output")"
	[ "$(jq -r .log.entries_to_replay <<<"$output")" -ge 1 ]
	# README: before replay both BAT entries are NOT_PRESENT, after it
	# both are FULLY_PRESENT.
	expect_eq "fully present blocks" 2 \
		"$(jq -r .blocks.fully_present <<<"$output")"
	expect_eq "not present blocks" 0 \
		"$(jq -r .blocks.not_present <<<"$output")"
}

@test "check warns that the log of a dirty image was replayed in memory only" {
	corpus_extract adiskreader/small_ntfs_test.vhdx.gz d.vhdx
	run --separate-stderr "$VHDRECOVER" check --json d.vhdx
	[ "$status" -eq 0 ]
	expect_eq "errors" 0 "$(jq -r .errors <<<"$output")"
	[ "$(jq -r .warnings <<<"$output")" -ge 1 ]
	expect_eq "clean" false "$(jq -r .clean <<<"$output")"
	json_true "$output" '[.problems[] | select(test("^warning: .*log.*replayed in memory"))] | length == 1'
}

@test "qemu-img refuses the dirty images read-only until their log is replayed" {
	local f
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 a.vhdx
	corpus_extract adiskreader/small_ntfs_test.vhdx.gz b.vhdx
	for f in a.vhdx b.vhdx; do
		run qemu-img info "$f"
		[ "$status" -ne 0 ]
		[[ $output == *"contains a log that needs to be replayed"* ]]
		run qemu-img convert -O raw "$f" q.raw
		[ "$status" -ne 0 ]
		qemu-img check -q -r all "$f"
		qemu-img info "$f" >/dev/null
	done
}

# ---- the differencing images, whose parents are not in the corpus ----

DIFF_PARENT='Generation 1_49C4BAF3-4B25-4406-8C4B-D39E65C32385.avhdx'
DIFF_ERROR='^vhdrecover: differencing\.avhdx: parent .*Generation 1_49C4BAF3-4B25-4406-8C4B-D39E65C32385\.avhdx.* not found'

@test "info of differencing.avhdx shows the type, sizes and parent locator, then fails on the missing parent" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run --separate-stderr "$VHDRECOVER" info --json differencing.avhdx
	assert_one_line_error "$DIFF_ERROR"
	local j=$output
	expect_eq "type" differencing "$(jq -r .type <<<"$j")"
	expect_eq "has_parent" true "$(jq -r .has_parent <<<"$j")"
	expect_eq "virtual size" 8589934592 "$(jq -r .virtual_size <<<"$j")"
	expect_eq "block size" 2097152 "$(jq -r .block_size <<<"$j")"
	expect_eq "partially present" 32 "$(jq -r .blocks.partially_present <<<"$j")"
	expect_eq "not present" 4064 "$(jq -r .blocks.not_present <<<"$j")"
	expect_eq "sector bitmaps" 2 "$(jq -r .blocks.sector_bitmaps_present <<<"$j")"
	expect_eq "locator type" b04aefb7-d19e-4a81-b789-25b8e9445913 \
		"$(jq -r .parent_locator.type <<<"$j")"
	expect_eq "parent_linkage" '{ff34003b-11ed-4cf8-a166-b2be05e20b80}' \
		"$(jq -r .parent_locator.entries.parent_linkage <<<"$j")"
	expect_eq "parent_linkage2" '{00000000-0000-0000-0000-000000000000}' \
		"$(jq -r .parent_locator.entries.parent_linkage2 <<<"$j")"
	expect_eq "relative_path" ".\\$DIFF_PARENT" \
		"$(jq -r .parent_locator.entries.relative_path <<<"$j")"
	[[ $(jq -r .parent_locator.entries.volume_path <<<"$j") == \
		'\\?\Volume{'*"}\\"*"\\$DIFF_PARENT" ]]
	[[ $(jq -r .parent_locator.entries.absolute_win32_path <<<"$j") == \
		'C:\'*"\\$DIFF_PARENT" ]]
	json_true "$j" '.error.message | test("not found")'

	run --separate-stderr "$VHDRECOVER" info differencing.avhdx
	assert_one_line_error "$DIFF_ERROR"
	[[ $output == *"type:              differencing"* ]]
}

@test "info of differencing.avhdx agrees with vhdiinfo, parent identifier and file name included" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run --separate-stderr "$VHDRECOVER" info --json differencing.avhdx
	[ "$status" -eq 1 ]
	local j=$output
	expect_eq "type (vhdiinfo)" "$(vhdi_type differencing.avhdx)" \
		"$(jq -r .type <<<"$j")"
	expect_eq "virtual size (vhdiinfo)" \
		"$(vhdi_media_size differencing.avhdx)" \
		"$(jq -r .virtual_size <<<"$j")"
	expect_eq "sector size (vhdiinfo)" \
		"$(vhdi_field differencing.avhdx 'Bytes per sector' | cut -d' ' -f1)" \
		"$(jq -r .logical_sector_size <<<"$j")"
	expect_eq "data write guid (vhdiinfo Identifier)" \
		"$(vhdi_field differencing.avhdx Identifier)" \
		"$(jq -r .data_write_guid <<<"$j")"
	expect_eq "parent_linkage (vhdiinfo Parent identifier)" \
		"{$(vhdi_field differencing.avhdx 'Parent identifier')}" \
		"$(jq -r .parent_locator.entries.parent_linkage <<<"$j")"
	expect_eq "absolute_win32_path (vhdiinfo Parent filename)" \
		"$(vhdi_field differencing.avhdx 'Parent filename')" \
		"$(jq -r .parent_locator.entries.absolute_win32_path <<<"$j")"
}

@test "qemu-img cannot open differencing.avhdx (so only vhdiinfo checks it)" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run qemu-img info differencing.avhdx
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not supported"* ]]
}

@test "convert of differencing.avhdx fails with one line naming the missing parent and leaves no output" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run --separate-stderr "$VHDRECOVER" convert differencing.avhdx out.raw -O raw
	assert_one_line_error "$DIFF_ERROR"
	[ ! -e out.raw ]
	[ -z "$(find . -name 'out.raw*')" ]
}

@test "read of differencing.avhdx fails with one line naming the missing parent and writes nothing" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run --separate-stderr "$VHDRECOVER" read differencing.avhdx 0 512
	assert_one_line_error "$DIFF_ERROR"
	[ -z "$output" ]
}

@test "check of differencing.avhdx reports the missing parent as an error" {
	corpus_extract dissect/differencing.avhdx.gz differencing.avhdx
	run --separate-stderr "$VHDRECOVER" check differencing.avhdx
	assert_one_line_error "$DIFF_ERROR"
	[[ $output == *"error: differencing.avhdx: parent "*"$DIFF_PARENT"*"not found"* ]]
	[[ $output == *"differencing.avhdx: 1 errors"* ]]

	run --separate-stderr "$VHDRECOVER" check --json differencing.avhdx
	assert_one_line_error "$DIFF_ERROR"
	expect_eq "clean" false "$(jq -r .clean <<<"$output")"
	[ "$(jq -r .errors <<<"$output")" -ge 1 ]
	json_true "$output" '[.problems[] | select(startswith("error: ") and
		contains($p) and contains("not found"))] | length == 1' \
		--arg p "$DIFF_PARENT"
}

FAT_ERROR='^vhdrecover: fat-differential\.vhd: parent .*fat-parent\.vhd.* not found'

@test "convert of fat-differential.vhd fails with one line naming the missing fat-parent.vhd" {
	corpus_extract dfvfs/fat-differential.vhd.xz fat-differential.vhd
	run --separate-stderr "$VHDRECOVER" convert fat-differential.vhd out.raw -O raw
	assert_one_line_error "$FAT_ERROR"
	[ -z "$(find . -name 'out.raw*')" ]
}

@test "info and read of fat-differential.vhd fail with one line naming the missing fat-parent.vhd" {
	corpus_extract dfvfs/fat-differential.vhd.xz fat-differential.vhd
	run --separate-stderr "$VHDRECOVER" info fat-differential.vhd
	assert_one_line_error "$FAT_ERROR"
	run --separate-stderr "$VHDRECOVER" read fat-differential.vhd 0 512
	assert_one_line_error "$FAT_ERROR"
	[ -z "$output" ]
}

@test "info of fat-differential.vhd agrees with vhdiinfo and qemu-img info, then fails on the missing parent" {
	info_matches_vhd_oracles dfvfs/fat-differential.vhd.xz 1
	local f=fat-differential.vhd j

	run --separate-stderr "$VHDRECOVER" info --json "$f"
	assert_one_line_error "$FAT_ERROR"
	j=$output
	expect_eq "has_parent" true "$(jq -r .has_parent <<<"$j")"
	expect_eq "parent identifier (vhdiinfo)" \
		"$(vhdi_field "$f" 'Parent identifier')" \
		"$(jq -r .parent_identifier <<<"$j")"
	expect_eq "parent identifier (README)" \
		5fa21a55-f394-aa4d-9958-1951a67d5540 \
		"$(jq -r .parent_identifier <<<"$j")"
	expect_eq "parent name (vhdiinfo Parent filename)" \
		"$(vhdi_field "$f" 'Parent filename')" \
		"$(jq -r .parent_name <<<"$j")"
	expect_eq "relative path (W2ru locator)" '.\fat-parent.vhd' \
		"$(jq -r .relative_path <<<"$j")"
	expect_eq "error errno" ENOENT "$(jq -r .error.errno <<<"$j")"
	json_true "$j" '.error.message | test("fat-parent\\.vhd.* not found")'
	expect_eq "no parent described" null "$(jq -r .parent <<<"$j")"

	run --separate-stderr "$VHDRECOVER" info "$f"
	assert_one_line_error "$FAT_ERROR"
	[[ $output == *"type:              differencing"$'\n'* ]]
	[[ $output == *"parent identifier: 5fa21a55-f394-aa4d-9958-1951a67d5540"$'\n'* ]]
	[[ $output == *'parent name:       C:\Projects\dfvfs\test_data\fat-parent.vhd'$'\n'* ]]
	[[ $output == *'relative path:     .\fat-parent.vhd'* ]]
}

# vhd_set_id FILE HEX32: give the VHD FILE the footer identifier HEX32 (file
# order) and fix the footer checksum (VHD spec: ones' complement of the
# byte sum, the checksum field counted as zero).
vhd_set_id()
{
	python3 - "$1" "$2" <<'EOF'
import os, sys
path, ident = sys.argv[1], bytes.fromhex(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(-512, os.SEEK_END)
    ftr = bytearray(f.read(512))
    ftr[68:84] = ident
    ftr[64:68] = bytes(4)
    ftr[64:68] = ((~sum(ftr)) & 0xffffffff).to_bytes(4, 'big')
    f.seek(-512, os.SEEK_END)
    f.write(ftr)
EOF
}

@test "info of fat-differential.vhd over a stand-in parent describes both, as vhdiinfo and qemu-img do" {
	corpus_extract dfvfs/fat-differential.vhd.xz fat-differential.vhd
	# A fixed 4 MiB qemu-made VHD carrying the identifier the child wants.
	qemu-img create -q -f vpc -o subformat=fixed,force_size=on base.vhd 4M
	vhd_set_id base.vhd 5fa21a55f394aa4d99581951a67d5540
	expect_eq "vhdiinfo identifier of the stand-in" \
		"$(vhdi_field fat-differential.vhd 'Parent identifier')" \
		"$(vhdi_field base.vhd Identifier)"

	run --separate-stderr "$VHDRECOVER" info --json --parent base.vhd \
		fat-differential.vhd
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	local j=$output
	expect_eq "no error" null "$(jq -r .error <<<"$j")"
	expect_eq "child type" differencing "$(jq -r .type <<<"$j")"
	expect_eq "parent file" base.vhd "$(jq -r .parent.file <<<"$j")"
	expect_eq "parent type (vhdiinfo)" "$(vhdi_type base.vhd)" \
		"$(jq -r .parent.type <<<"$j")"
	expect_eq "parent identifier (vhdiinfo)" \
		"$(vhdi_field base.vhd Identifier)" \
		"$(jq -r .parent.identifier <<<"$j")"
	expect_eq "parent current size (vhdiinfo)" \
		"$(vhdi_media_size base.vhd)" \
		"$(jq -r .parent.current_size <<<"$j")"
	expect_eq "parent virtual size (qemu-img)" \
		"$(qemu_json base.vhd -f vpc | jq -r '."virtual-size"')" \
		"$(jq -r .parent.virtual_size <<<"$j")"
	expect_eq "parent creator (qemu-img)" qem2 \
		"$(jq -r .parent.creator <<<"$j")"
	expect_eq "parent block size" 0 "$(jq -r .parent.block_size <<<"$j")"
	expect_eq "parent has_parent" false "$(jq -r .parent.has_parent <<<"$j")"

	run --separate-stderr "$VHDRECOVER" info --parent base.vhd \
		fat-differential.vhd
	[ "$status" -eq 0 ]
	[[ $output == *$'\nparent 1:\n  file:              base.vhd\n'* ]]
	[[ $output == *$'\n  type:              fixed\n'* ]]
}

@test "vhdiinfo confirms fat-differential.vhd is a differencing VHD over fat-parent.vhd" {
	corpus_extract dfvfs/fat-differential.vhd.xz fat-differential.vhd
	expect_eq "vhdiinfo disk type" differencing "$(vhdi_type fat-differential.vhd)"
	expect_eq "vhdiinfo parent filename" \
		'C:\Projects\dfvfs\test_data\fat-parent.vhd' \
		"$(vhdi_field fat-differential.vhd 'Parent filename')"
	expect_eq "vhdiinfo parent identifier (README)" \
		5fa21a55-f394-aa4d-9958-1951a67d5540 \
		"$(vhdi_field fat-differential.vhd 'Parent identifier')"
}

# ---- content spot checks (README, from the dissect tests) ----

# mbr_checks FILE: sector 0 ends in 55aa, partition 1 is NTFS (type 0x07)
# starting at LBA 128, and 0x200000 holds 512 bytes of 0xff; read through
# `vhdrecover read`.
mbr_checks()
{
	local f=$1

	"$VHDRECOVER" read "$f" 0 512 >s0.bin
	expect_eq "sector size read" 512 "$(stat -c %s s0.bin)"
	expect_eq "boot signature" 55aa "$(od -A n -t x1 -j 510 -N 2 s0.bin | tr -d ' \n')"
	expect_eq "partition 1 type" 07 "$(od -A n -t x1 -j 450 -N 1 s0.bin | tr -d ' \n')"
	expect_eq "partition 1 first LBA" 128 "$(od -A n -t u4 -j 454 -N 4 s0.bin | tr -d ' \n')"
	"$VHDRECOVER" read "$f" 0x200000 512 >ff.bin
	zeros 512 | tr '\0' '\377' >ff.want
	same_bytes ff.bin ff.want
}

@test "fixed.vhdx: MBR with an NTFS partition at LBA 128, and 0xff at 0x200000" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	mbr_checks fixed.vhdx
}

@test "dynamic.vhdx: MBR with an NTFS partition at LBA 128, and 0xff at 0x200000" {
	corpus_extract dissect/dynamic.vhdx.gz dynamic.vhdx
	mbr_checks dynamic.vhdx
}

@test "fixed.vhd: MBR with an NTFS partition at LBA 128, and 0xff at 0x200000" {
	corpus_extract dissect/fixed.vhd.gz fixed.vhd
	mbr_checks fixed.vhd
}

@test "dynamic.vhd: MBR with an NTFS partition at LBA 128, and 0xff at 0x200000" {
	corpus_extract dissect/dynamic.vhd.gz dynamic.vhd
	mbr_checks dynamic.vhd
}

@test "read of iotest-dynamic-1G.vhdx returns the README's 0xa5, 0x96 and zero regions" {
	corpus_extract qemu/iotest-dynamic-1G.vhdx.bz2 d.vhdx
	local M=$((1024 * 1024))
	# 0xa5 at 0-33 MiB, 0x96 at 33-66 MiB, zeros after; read across
	# both edges and through a ZERO block.
	"$VHDRECOVER" read d.vhdx $((33 * M - 4096)) 8192 >r.bin
	{ zeros 4096 | tr '\0' '\245'; zeros 4096 | tr '\0' '\226'; } >want.bin
	same_bytes r.bin want.bin
	"$VHDRECOVER" read d.vhdx $((66 * M - 4096)) 8192 >r.bin
	{ zeros 4096 | tr '\0' '\226'; zeros 4096; } >want.bin
	same_bytes r.bin want.bin
	"$VHDRECOVER" read d.vhdx $((1024 * M - 65536)) 65536 >r.bin
	zeros 65536 >want.bin
	same_bytes r.bin want.bin
}

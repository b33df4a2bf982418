#!/usr/bin/env bats
# cli.bats - the command-line contract of DESIGN.md section 3 and STYLE.md
# section 3: help and version, exit codes (0 ok, 1 handled error with one
# line "vhdrecover: FILE: problem" on stderr, 2 bad usage with a hint), the
# --json documents, `read` argument checks and ranges, and the atomic
# replacement of convert's output.
#
# Run by `make check`, or by hand from the top of the source tree:
#   bats --tap tests/integ/cli.bats

load helpers

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

VERBS=(info check convert read)
GUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

# ---- help and version ----

@test "--help, -h and help print the usage with every verb on stdout and exit 0" {
	local arg verb
	for arg in --help -h help; do
		run --separate-stderr "$VHDRECOVER" "$arg"
		[ "$status" -eq 0 ]
		[ -z "$stderr" ]
		[[ ${lines[0]} == "Usage: vhdrecover VERB"* ]]
		for verb in "${VERBS[@]}"; do
			[[ $output == *$'\n'"  $verb "* ]]
		done
		[[ $output == *"Exit status: 0 ok, 1 error, 2 bad usage"* ]]
	done
}

@test "VERB --help and VERB -h print that verb's usage on stdout and exit 0" {
	local verb arg
	for verb in "${VERBS[@]}"; do
		for arg in --help -h; do
			run --separate-stderr "$VHDRECOVER" "$verb" "$arg"
			[ "$status" -eq 0 ]
			[ -z "$stderr" ]
			[[ ${lines[0]} == "Usage: vhdrecover $verb "* ]]
			[[ $output == *"--help"* ]]
		done
	done
}

@test "VERB --help wins over missing arguments" {
	run --separate-stderr "$VHDRECOVER" read --help fixed.vhdx
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Usage: vhdrecover read "* ]]
}

@test "--version prints the version of configure.ac and exits 0" {
	local want
	want=$(sed -n 's/^AC_INIT(\[vhdrecover\], *\[\([^]]*\)\].*/\1/p' \
		"$TOP_SRCDIR/configure.ac")
	[ -n "$want" ]
	run --separate-stderr "$VHDRECOVER" --version
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$output" == "vhdrecover $want" ]
}

# ---- bad usage: exit 2 and a hint ----

@test "no arguments at all exit 2 with the usage on stderr" {
	run --separate-stderr "$VHDRECOVER"
	assert_usage_error
	[ -z "$output" ]
	[[ $stderr == "Usage: vhdrecover VERB"* ]]
}

@test "an unknown verb exits 2, names the verb and points to --help" {
	run --separate-stderr "$VHDRECOVER" frobnicate fixed.vhdx
	assert_usage_error
	[ -z "$output" ]
	[[ $stderr == "vhdrecover: unknown verb 'frobnicate'"* ]]
}

@test "an unknown option exits 2 for every verb, names the option and points to VERB --help" {
	local verb
	for verb in "${VERBS[@]}"; do
		run --separate-stderr "$VHDRECOVER" "$verb" --frobnicate x y z
		assert_usage_error
		[ -z "$output" ]
		[[ $stderr == *"--frobnicate"* ]]
		[[ $stderr == *"Try 'vhdrecover $verb --help'."* ]]
	done
}

@test "missing or extra operands exit 2 for every verb with a hint" {
	local args
	while read -r args; do
		# shellcheck disable=SC2086 # split into words on purpose
		run --separate-stderr "$VHDRECOVER" $args
		echo "args: $args"
		assert_usage_error
		[[ $stderr == "vhdrecover ${args%% *}: "* ]]
	done <<'EOF'
info
info a.vhdx b.vhdx
check
check a.vhdx b.vhdx
convert
convert in.vhdx
convert in.vhdx out.raw extra
read
read disk.vhdx
read disk.vhdx 0
read disk.vhdx 0 1 2
EOF
	# Nothing was created by any of them.
	[ -z "$(ls -A)" ]
}

@test "convert -O with a format other than raw exits 2 and names the format" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" convert -O qcow2 fixed.vhdx out.raw
	assert_usage_error
	[[ $stderr == *"'qcow2'"* ]]
	[ ! -e out.raw ]
}

@test "read with a bad OFFSET or LENGTH exits 2 and names the bad number" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	local bad
	for bad in abc 12Q 1KB 0x '' 1.5 99999999999999999999 20000000T; do
		run --separate-stderr "$VHDRECOVER" read fixed.vhdx "$bad" 512
		echo "OFFSET '$bad'"
		assert_usage_error
		[[ $stderr == *"bad OFFSET '$bad'"* ]]
		[ -z "$output" ]
		run --separate-stderr "$VHDRECOVER" read fixed.vhdx 0 "$bad"
		echo "LENGTH '$bad'"
		assert_usage_error
		[[ $stderr == *"bad LENGTH '$bad'"* ]]
		[ -z "$output" ]
	done
}

@test "read with a negative number exits 2" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" read fixed.vhdx 0 -1
	assert_usage_error
	[ -z "$output" ]
	run --separate-stderr "$VHDRECOVER" read -- fixed.vhdx -512 512
	assert_usage_error
	[ -z "$output" ]
}

# ---- read ----

@test "read takes decimal, 0x hex and K/M suffixes and returns the disk's bytes" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	qemu-img convert -f vhdx -O raw fixed.vhdx qemu.raw
	"$VHDRECOVER" read fixed.vhdx 2097152 1024 >a.bin
	"$VHDRECOVER" read fixed.vhdx 0x200000 1K >b.bin
	"$VHDRECOVER" read fixed.vhdx 2048K 0x400 >c.bin
	"$VHDRECOVER" read fixed.vhdx 2M 1k >d.bin
	file_range qemu.raw 2097152 1024 >want.bin
	same_bytes a.bin want.bin
	same_bytes b.bin want.bin
	same_bytes c.bin want.bin
	same_bytes d.bin want.bin
}

@test "read of the whole disk equals qemu-img convert output, also through a pipe" {
	corpus_extract dissect/dynamic.vhdx.gz dynamic.vhdx
	qemu-img convert -f vhdx -O raw dynamic.vhdx qemu.raw
	"$VHDRECOVER" read dynamic.vhdx 0 10M >all.bin
	same_bytes all.bin qemu.raw
	"$VHDRECOVER" read dynamic.vhdx 0 10M | cat >piped.bin
	same_bytes piped.bin qemu.raw
}

@test "read of zero bytes, even at the very end of the disk, prints nothing and exits 0" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" read fixed.vhdx 0 0
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr "$VHDRECOVER" read fixed.vhdx 10485760 0
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
}

@test "read past the end of the disk exits 1 with one line and writes nothing" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	local args
	while read -r args; do
		# shellcheck disable=SC2086
		run --separate-stderr "$VHDRECOVER" read fixed.vhdx $args
		echo "read fixed.vhdx $args"
		assert_one_line_error '^vhdrecover: fixed\.vhdx: range .* is outside the disk \(10485760 bytes\)$'
		[ -z "$output" ]
	done <<'EOF'
10485760 1
10485759 2
0 10485761
0x1000000 512
18446744073709551615 1
512 18446744073709551615
EOF
}

@test "read of a missing disk exits 1 with one line naming it" {
	run --separate-stderr "$VHDRECOVER" read missing.vhdx 0 512
	assert_one_line_error '^vhdrecover: missing\.vhdx: No such file or directory$'
	[ -z "$output" ]
}

# ---- --json documents ----

@test "info --json of a VHDX is one JSON object with the documented fields and types" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" info --json fixed.vhdx
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	json_true "$output" 'type == "object"'
	# The exact key sets, so a renamed or dropped field shows.
	json_true "$output" 'keys == (["blocks", "block_size", "creator",
		"data_write_guid", "file", "file_size", "file_write_guid",
		"format", "has_parent", "header", "leave_blocks_allocated",
		"log", "logical_sector_size", "physical_sector_size", "type",
		"virtual_disk_id", "virtual_size"] | sort)'
	json_true "$output" '(.header | keys) == ["current", "sequence"]'
	json_true "$output" '(.log | keys) == (["entries_to_replay", "guid", "length",
		"offset", "replayed_in_memory"] | sort)'
	json_true "$output" '(.blocks | keys) == (["bat_entries", "chunk_ratio",
		"fully_present", "not_present", "partially_present", "payload",
		"sector_bitmaps_present", "undefined", "unmapped", "zero"] | sort)'
	json_true "$output" '(.file | type) == "string" and (.creator | type) == "string"
		and ([.virtual_size, .block_size, .logical_sector_size,
		      .physical_sector_size, .file_size, .header.current,
		      .header.sequence, .log.offset, .log.length,
		      .log.entries_to_replay, (.blocks[])] |
		     all(type == "number" and . >= 0 and floor == .))
		and (.has_parent | type) == "boolean"
		and (.leave_blocks_allocated | type) == "boolean"
		and (.log.replayed_in_memory | type) == "boolean"'
	local g
	for g in virtual_disk_id data_write_guid file_write_guid log.guid; do
		[[ $(jq -r ".$g" <<<"$output") =~ $GUID_RE ]]
	done
	# Values that other tools can confirm.
	json_true "$output" '.file == "fixed.vhdx" and .format == "vhdx" and
		 .type == "fixed" and .file_size == $fs and
		 .virtual_size == 10485760 and .block_size == 2097152 and
		 .has_parent == false' --argjson fs "$(stat -c %s fixed.vhdx)"
}

@test "info text and info --json report the same sizes and GUIDs" {
	corpus_extract qemu/test-disk2vhd.vhdx.bz2 d.vhdx
	local j t
	j=$("$VHDRECOVER" info --json d.vhdx)
	t=$("$VHDRECOVER" info d.vhdx)
	[[ $t == *"virtual size:      $(jq -r .virtual_size <<<"$j") bytes"* ]]
	[[ $t == *"block size:        $(jq -r .block_size <<<"$j") bytes"* ]]
	[[ $t == *"type:              $(jq -r .type <<<"$j")"* ]]
	[[ $t == *"data write guid:   $(jq -r .data_write_guid <<<"$j")"* ]]
	[[ $t == *"virtual disk id:   $(jq -r .virtual_disk_id <<<"$j")"* ]]
}

@test "info --json of a VHD and of a raw file reports format and virtual size" {
	corpus_extract dissect/dynamic.vhd.gz d.vhd
	run --separate-stderr "$VHDRECOVER" info --json d.vhd
	[ "$status" -eq 0 ]
	json_true "$output" '.file == "d.vhd" and .format == "vhd" and
		.virtual_size == 10485760'
	head -c 3M /dev/zero | tr '\0' 'x' >disk.img
	run --separate-stderr "$VHDRECOVER" info --json disk.img
	[ "$status" -eq 0 ]
	json_true "$output" '.file == "disk.img" and .format == "raw" and
		.virtual_size == 3145728'
}

@test "check --json of a clean VHDX is one JSON object with the documented fields" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" check --json fixed.vhdx
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	json_true "$output" '(keys == (["clean", "errors", "file", "problems", "warnings"] | sort))
		and .file == "fixed.vhdx" and .clean == true
		and .errors == 0 and .warnings == 0
		and (.problems | type) == "array" and (.problems | length) == 0'
	run --separate-stderr "$VHDRECOVER" check fixed.vhdx
	[ "$status" -eq 0 ]
	[ "$output" == "fixed.vhdx: clean" ]
}

@test "check --json of a broken VHDX lists the problem, counts it and carries the error" {
	corpus_extract dissect/dynamic.vhdx.gz d.vhdx
	# Cut the file inside the only payload block.
	truncate -s 8M d.vhdx
	run --separate-stderr "$VHDRECOVER" check --json d.vhdx
	assert_one_line_error '^vhdrecover: d\.vhdx: BAT entry 0: .*past end of file'
	json_true "$output" '.clean == false and .errors >= 1 and
		([.problems[] | select(startswith("error: d.vhdx: BAT entry 0"))]
		 | length) == 1'
	# The stderr line is the first error line, without "error: ".
	local first
	first=$(jq -r '[.problems[] | select(startswith("error: "))][0]' <<<"$output")
	[ "vhdrecover: ${first#error: }" == "$stderr" ]
}

@test "info --json of a missing file still prints a JSON document carrying the error" {
	# STYLE.md section 3: --json puts the same message and the errno
	# name in the JSON document.
	run --separate-stderr "$VHDRECOVER" info --json missing.vhdx
	assert_one_line_error '^vhdrecover: missing\.vhdx: No such file or directory$'
	json_true "$output" '.file == "missing.vhdx" and
		.error.message == "missing.vhdx: No such file or directory" and
		.error.errno == "ENOENT"'
}

@test "check --json of a missing file still prints a JSON document carrying the error" {
	run --separate-stderr "$VHDRECOVER" check --json missing.vhdx
	assert_one_line_error '^vhdrecover: missing\.vhdx: No such file or directory$'
	json_true "$output" '.file == "missing.vhdx" and
		.error.message == "missing.vhdx: No such file or directory" and
		.error.errno == "ENOENT"'
}

@test "check --json of a raw file still prints a JSON document carrying the error" {
	head -c 1M /dev/zero >disk.raw
	run --separate-stderr "$VHDRECOVER" check --json disk.raw
	assert_one_line_error '^vhdrecover: disk\.raw: not a VHDX file \(raw\)'
	json_true "$output" '.file == "disk.raw" and
		("vhdrecover: " + .error.message) == $line and
		(.error.errno | test("^E[A-Z]+$"))' --arg line "$stderr"
}

# ---- check on what is not a VHDX ----

@test "check of a raw file exits 1 with one line saying it is not a VHDX" {
	head -c 1M /dev/zero >disk.raw
	run --separate-stderr "$VHDRECOVER" check disk.raw
	assert_one_line_error '^vhdrecover: disk\.raw: not a VHDX file \(raw\)'
	[ -z "$output" ]
}

@test "check of a VHD exits 1 with one line saying it is not a VHDX" {
	corpus_extract dissect/dynamic.vhd.gz d.vhd
	run --separate-stderr "$VHDRECOVER" check d.vhd
	assert_one_line_error '^vhdrecover: d\.vhd: not a VHDX file \(vhd\)'
}

@test "info, check, convert and read of a missing file exit 1 with one line naming it" {
	local verb
	for verb in info check; do
		run --separate-stderr "$VHDRECOVER" "$verb" missing.vhdx
		assert_one_line_error '^vhdrecover: missing\.vhdx: No such file or directory$'
	done
	run --separate-stderr "$VHDRECOVER" convert missing.vhdx out.raw
	assert_one_line_error '^vhdrecover: missing\.vhdx: No such file or directory$'
	[ ! -e out.raw ]
}

@test "info of a directory exits 1 with one line" {
	mkdir adir
	run --separate-stderr "$VHDRECOVER" info adir
	assert_one_line_error '^vhdrecover: adir: '
}

# ---- convert: OUT is replaced atomically ----

@test "convert of a missing input exits 1, names it, and leaves the old OUT and no temp file" {
	head -c 100000 /dev/zero | tr '\0' 'o' >out.raw
	local before
	before=$(sha_of out.raw)
	run --separate-stderr "$VHDRECOVER" convert nosuch.vhdx out.raw -O raw
	assert_one_line_error '^vhdrecover: nosuch\.vhdx: No such file or directory$'
	[ "$(sha_of out.raw)" == "$before" ]
	[ "$(ls -A)" == out.raw ]
}

@test "convert that fails while writing leaves the old OUT intact and removes its temp file" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	head -c 100000 /dev/zero | tr '\0' 'o' >out.raw
	local before
	before=$(sha_of out.raw)
	# A 1 MiB file size limit makes sizing the 10 MiB output fail with
	# EFBIG (the signal ignored, so the write returns the error).
	run --separate-stderr bash -c \
		'trap "" XFSZ; ulimit -f 1024; exec "$0" convert fixed.vhdx out.raw' \
		"$VHDRECOVER"
	assert_one_line_error '^vhdrecover: out\.raw: .*File too large$'
	[ "$(sha_of out.raw)" == "$before" ]
	[ -z "$(find . -name 'out.raw.tmp.*')" ]
}

@test "convert of an input that fails to open leaves the old OUT intact" {
	corpus_extract dissect/dynamic.vhdx.gz d.vhdx
	truncate -s 8M d.vhdx
	echo old >out.raw
	run --separate-stderr "$VHDRECOVER" convert d.vhdx out.raw
	assert_one_line_error '^vhdrecover: d\.vhdx: '
	[ "$(cat out.raw)" == old ]
	[ -z "$(find . -name 'out.raw.tmp.*')" ]
}

@test "convert onto an existing file replaces it by rename: a hard link keeps the old content" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	# An old OUT larger than the new one, with a second name.
	head -c 20M /dev/zero | tr '\0' 'o' >out.raw
	ln out.raw keep.raw
	local before inode
	before=$(sha_of keep.raw)
	inode=$(stat -c %i out.raw)
	run --separate-stderr "$VHDRECOVER" convert fixed.vhdx out.raw -O raw
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	qemu-img convert -f vhdx -O raw fixed.vhdx qemu.raw
	same_bytes out.raw qemu.raw
	[ "$(stat -c %i out.raw)" != "$inode" ]
	[ "$(sha_of keep.raw)" == "$before" ]
	[ -z "$(find . -name 'out.raw.tmp.*')" ]
}

@test "convert onto a directory exits 1 with one line and leaves no temp file" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	mkdir out.raw
	run --separate-stderr "$VHDRECOVER" convert fixed.vhdx out.raw
	assert_one_line_error '^vhdrecover: out\.raw: '
	[ -d out.raw ]
	[ -z "$(ls -A out.raw)" ]
	[ -z "$(find . -name 'out.raw.tmp.*')" ]
}

@test "convert output is sparse where the disk is zero" {
	corpus_extract qemu/iotest-dynamic-1G.vhdx.bz2 d.vhdx
	"$VHDRECOVER" convert d.vhdx out.raw
	[ "$(stat -c %s out.raw)" -eq 1073741824 ]
	# 66 MiB of data (README); the other 958 MiB must be holes.
	local kb
	kb=$(du -k out.raw | cut -f1)
	echo "allocated: $kb KiB"
	[ "$kb" -le $((67 * 1024)) ]
}

@test "convert shows progress on stderr only when asked, and never on stdout" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	run --separate-stderr "$VHDRECOVER" convert --progress fixed.vhdx a.raw
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[[ $stderr == *"(100%)"* ]]
	# Not a TTY: quiet by default, and with --no-progress.
	run --separate-stderr "$VHDRECOVER" convert fixed.vhdx b.raw
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	run --separate-stderr "$VHDRECOVER" convert --no-progress fixed.vhdx c.raw
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	same_bytes a.raw b.raw
	same_bytes a.raw c.raw
}

@test "convert of a raw file copies it" {
	head -c 1M /dev/zero | tr '\0' 'r' >in.img
	head -c 1M /dev/zero >>in.img
	printf 'tail' >>in.img
	"$VHDRECOVER" convert in.img out.raw
	same_bytes in.img out.raw
}

#!/usr/bin/env bats
# repo.bats - "vhdrecover repo init|check": making a repository and
# checking its chunk store from the command line. (Chunks are put by the
# library here; cycles that fill repositories come with replicate.)

load helpers

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

@test "repo init makes a repository that checks clean, text and JSON" {
	run "$VHDRECOVER" repo init --chunk-size 128K --zstd-level 5 r
	[ "$status" -eq 0 ]
	[ "$output" = "r: repository made" ]
	grep -qx "chunk_size 131072" r/config
	grep -qx "zstd_level 5" r/config
	run "$VHDRECOVER" repo check r
	[ "$status" -eq 0 ]
	[ "$output" = "r: 0 packs, 0 chunks, 0 bytes stored, 0 bases and points; clean" ]
	run "$VHDRECOVER" repo check --read-data --json r
	[ "$status" -eq 0 ]
	json_true "$output" '.clean and .chunks == 0 and .problems == []'
}

@test "repo init and check refuse bad input with one line" {
	"$VHDRECOVER" repo init r
	run --separate-stderr "$VHDRECOVER" repo init r
	assert_one_line_error '^vhdrecover: r: not empty'
	run --separate-stderr "$VHDRECOVER" repo init --chunk-size 3000 s
	assert_one_line_error '^vhdrecover: s: chunk size 3000 is not a power of two'
	mkdir plain
	run --separate-stderr "$VHDRECOVER" repo check plain
	assert_one_line_error '^vhdrecover: plain: not a repository'
	echo "format 1" >r/config
	run --separate-stderr "$VHDRECOVER" repo check r
	assert_one_line_error '^vhdrecover: r: config: damaged'
	run --separate-stderr "$VHDRECOVER" repo frobnicate r
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" repo check --chunk-size 4K r
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" repo init --zstd-level 30 t
	assert_usage_error
}

@test "base add stores a golden image once: the same content as VHDX adds no chunk" {
	"$VHDRECOVER" repo init r
	head -c $((6 * 1024 * 1024)) /dev/urandom >golden.raw
	truncate -s 24M golden.raw
	run "$VHDRECOVER" base add r golden.raw --name golden
	[ "$status" -eq 0 ]
	[ "$output" = "r: base golden: 384 chunks, 288 zero, 96 new" ]
	qemu-img convert -f raw -O vhdx golden.raw golden.vhdx
	run "$VHDRECOVER" base add --json r golden.vhdx --name golden-vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.chunks == 384 and .new_chunks == 0 and
		.zero_chunks == 288'
	[ -f r/bases/golden.base ] && [ -f r/bases/golden-vhdx.base ]
	run "$VHDRECOVER" repo check --read-data r
	[ "$status" -eq 0 ]
	[ "$output" = "r: 1 packs, 96 chunks, 6291456 bytes stored, 2 bases and points; clean" ]

	run --separate-stderr "$VHDRECOVER" base add r golden.raw --name golden
	assert_one_line_error '^vhdrecover: r: base golden exists already'
	run --separate-stderr "$VHDRECOVER" base add r golden.raw --name ../x
	assert_one_line_error "^vhdrecover: r: base name '\.\./x'"
	run --separate-stderr "$VHDRECOVER" base add r nosuch.raw --name n
	assert_one_line_error '^vhdrecover: nosuch\.raw: No such file'
	[ ! -e r/bases/n.base ]
	run --separate-stderr "$VHDRECOVER" base add r golden.raw
	assert_usage_error
}

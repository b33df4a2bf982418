#!/usr/bin/env bats
# merge.bats - "vhdrecover merge": folding a differencing disk into its
# parent in place (crash-safe), and flattening a chain with -o; checked by
# qemu-img check/compare, SHA-256 of the chain's view, and kill -9.

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

# chain_with_workload: base.vhdx (48 MiB of random data, 1 MiB blocks)
# and child.vhdx over it after a seeded workload; chain.raw is the chain's
# content as the mirror says.
chain_with_workload()
{
	head -c $((48 * M)) /dev/urandom >chain.raw
	"$VHDRECOVER" create base.vhdx --size 48M --block-size 1M
	"$VHDRECOVER" write base.vhdx 0 chain.raw
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	"$CRASH" mirror child.vhdx chain.raw 2000 "$RANDOM"
}

@test "merge folds a child into its parent: the parent reads as the chain did and passes qemu-img check" {
	chain_with_workload
	"$VHDRECOVER" create sibling.vhdx --parent base.vhdx
	run "$VHDRECOVER" merge child.vhdx
	[ "$status" -eq 0 ]
	[ "$output" = "child.vhdx: merged into ./base.vhdx" ]
	[ ! -e child.vhdx ]
	qemu-img check base.vhdx
	qemu-img compare -f vhdx -F raw base.vhdx chain.raw
	[ "$("$VHDRECOVER" read base.vhdx 0 48M | sha256sum)" = \
		"$(sha256sum <chain.raw)" ]
	# the parent's DataWriteGuid changed: its other children refuse it
	run --separate-stderr "$VHDRECOVER" read sibling.vhdx 0 512
	assert_one_line_error '^vhdrecover: sibling\.vhdx: parent .* does not match'
}

@test "merge --json names child and parent; a disk without a parent is refused with one line" {
	chain_with_workload
	run "$VHDRECOVER" merge --json child.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.merged == true and .child == "child.vhdx" and
		(.parent | endswith("base.vhdx"))'
	local sum
	sum=$(sha_of base.vhdx)
	run --separate-stderr "$VHDRECOVER" merge base.vhdx
	assert_one_line_error '^vhdrecover: base\.vhdx: not a differencing disk'
	[ "$(sha_of base.vhdx)" = "$sum" ]
	run --separate-stderr "$VHDRECOVER" merge --json base.vhdx
	[ "$status" -eq 1 ]
	json_true "$output" '.merged == false and .error.errno == "EINVAL"'
	run --separate-stderr "$VHDRECOVER" merge nosuch.vhdx
	assert_one_line_error '^vhdrecover: nosuch\.vhdx: No such file or directory$'
	run --separate-stderr "$VHDRECOVER" merge
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" merge --block-size 1M child.vhdx
	assert_usage_error
}

@test "merge -o flattens a three-level chain into a dynamic disk equal to the chain, the chain untouched" {
	chain_with_workload
	"$VHDRECOVER" create top.vhdx --parent child.vhdx
	head -c $((3 * M)) /dev/urandom >top.data
	"$VHDRECOVER" write top.vhdx $((10 * M + 4096)) top.data
	dd if=top.data of=chain.raw bs=1M oflag=seek_bytes \
		seek=$((10 * M + 4096)) conv=notrunc status=none
	local a b c
	a=$(sha_of base.vhdx) b=$(sha_of child.vhdx) c=$(sha_of top.vhdx)
	"$VHDRECOVER" merge -o flat.vhdx --block-size 2M top.vhdx
	qemu-img check flat.vhdx
	qemu-img compare -f vhdx -F raw flat.vhdx chain.raw
	run "$VHDRECOVER" info --json flat.vhdx
	[ "$(jq -r .type <<<"$output")" = dynamic ]
	[ "$(jq -r .block_size <<<"$output")" -eq $((2 * M)) ]
	[ "$(sha_of base.vhdx)" = "$a" ]
	[ "$(sha_of child.vhdx)" = "$b" ]
	[ "$(sha_of top.vhdx)" = "$c" ]
}

@test "a merge into a differencing parent keeps the grandparent untouched" {
	chain_with_workload
	"$VHDRECOVER" create top.vhdx --parent child.vhdx
	head -c $((5 * M)) /dev/urandom >top.data
	"$VHDRECOVER" write top.vhdx $((20 * M + 512)) top.data
	dd if=top.data of=chain.raw bs=1M oflag=seek_bytes \
		seek=$((20 * M + 512)) conv=notrunc status=none
	local a
	a=$(sha_of base.vhdx)
	"$VHDRECOVER" merge top.vhdx
	"$VHDRECOVER" convert child.vhdx got.raw
	cmp got.raw chain.raw
	[ "$(sha_of base.vhdx)" = "$a" ]
	vhdi_mount child.vhdx mnt
	cmp "$VHDI_TOP" chain.raw
}

@test "crash test: a merge killed 100 times leaves the chain or the merged parent reading as the chain did" {
	chain_with_workload
	run "$CRASH" merge base.vhdx child.vhdx chain.raw 100 "$RANDOM" 60000
	echo "# $output" >&3
	[ "$status" -eq 0 ]
	[[ $output == "merge kills survived: 100 of 100"* ]]
	[ ! -e child.vhdx ]
	qemu-img check base.vhdx
	qemu-img compare -f vhdx -F raw base.vhdx chain.raw
}

@test "a full disk during merge gives one line and leaves the chain readable" {
	mkdir small
	mount -t tmpfs -o size=40M tmpfs small
	VR_MOUNTS+=("$VR_WORK/small")
	"$VHDRECOVER" create small/base.vhdx --size 64M --block-size 1M
	head -c $((4 * M)) /dev/urandom >a
	"$VHDRECOVER" write small/base.vhdx 0 a
	"$VHDRECOVER" create small/child.vhdx --parent small/base.vhdx
	head -c $((30 * M)) /dev/urandom >b
	"$VHDRECOVER" write small/child.vhdx $((8 * M)) b
	run --separate-stderr "$VHDRECOVER" merge small/child.vhdx
	assert_one_line_error '^vhdrecover: small/.*No space left on device'
	[ -e small/child.vhdx ]
	run "$VHDRECOVER" check small/child.vhdx
	[ "$status" -eq 0 ]
	"$VHDRECOVER" read small/child.vhdx 0 4M | cmp - a
	"$VHDRECOVER" read small/child.vhdx 8M 30M | cmp - b
}

@test "the examples/flatten-vm.sh runbook flattens, verifies and retires a chain" {
	chain_with_workload
	local a
	a=$(sha_of base.vhdx)
	run env PATH="$(dirname "$VHDRECOVER"):$PATH" \
		"$TOP_SRCDIR/examples/flatten-vm.sh" child.vhdx vm.vhdx --retire
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"identical: "* ]]
	[ ! -e child.vhdx ]
	[ "$(sha_of base.vhdx)" = "$a" ]
	qemu-img compare -f vhdx -F raw vm.vhdx chain.raw
	# an existing output is refused, nothing changes
	run env PATH="$(dirname "$VHDRECOVER"):$PATH" \
		"$TOP_SRCDIR/examples/flatten-vm.sh" vm.vhdx vm.vhdx
	[ "$status" -eq 1 ]
	[[ $output == *"refusing to replace"* ]]
}

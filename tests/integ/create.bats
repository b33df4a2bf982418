#!/usr/bin/env bats
# create.bats - "vhdrecover create": new fixed, dynamic and differencing
# disks, checked by qemu-img (which cannot create differencing VHDX, and
# cannot open 4096-byte logical sectors) and by libvhdi's vhdiinfo and
# vhdimount (which read both).

load helpers

setup()
{
	vr_setup
}

teardown()
{
	if [[ -n ${MNT:-} ]]; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	fi
	vr_teardown
}

M=$((1024 * 1024))

@test "dynamic and fixed disks of every block size pass qemu-img check and have the asked size" {
	local bs t size
	for bs in 1M 32M 256M; do
		# one size a block multiple, one that is not
		for size in $((64 * M)) $((100 * M + 512)); do
			for t in dynamic fixed; do
				rm -f d.vhdx
				"$VHDRECOVER" create d.vhdx --size "$size" \
					--type "$t" --block-size "$bs"
				qemu-img check d.vhdx
				qemu_json d.vhdx >q.json
				[ "$(jq '.["virtual-size"]' q.json)" -eq "$size" ]
				[ "$(jq '.["cluster-size"]' q.json)" -eq \
					"$(numfmt --from=iec "$bs")" ]
				run "$VHDRECOVER" check d.vhdx
				[ "$status" -eq 0 ]
				[ "$output" = "d.vhdx: clean" ]
				run "$VHDRECOVER" info --json d.vhdx
				[ "$(jq -r .type <<<"$output")" = "$t" ]
			done
		done
	done
}

@test "a created dynamic disk written by qemu-io reads back as qemu-img's raw view" {
	"$VHDRECOVER" create d.vhdx --size 64M --block-size 1M
	qemu-io -c 'write -P 0x11 0 3M' -c 'write -P 0x22 30M 5M' d.vhdx
	qemu-img check d.vhdx
	"$VHDRECOVER" convert d.vhdx ours.raw
	qemu-img convert -O raw d.vhdx qemu.raw
	cmp ours.raw qemu.raw
}

@test "4096-byte logical sectors: vhdiinfo sees them, check is clean, the disk reads as zeros" {
	"$VHDRECOVER" create d.vhdx --size 16M --block-size 2M \
		--logical-sector 4096 --physical-sector 4096
	vhdiinfo d.vhdx >vi.txt
	grep -q 'Bytes per sector.*: 4096 bytes' vi.txt
	grep -q 'Media size.*(16777216 bytes)' vi.txt
	run "$VHDRECOVER" check d.vhdx
	[ "$output" = "d.vhdx: clean" ]
	"$VHDRECOVER" convert d.vhdx out.raw
	cmp out.raw <(head -c $((16 * M)) /dev/zero)
}

@test "a differencing disk over a base in another directory reads as the base, for us and for libvhdi" {
	mkdir golden vms
	"$VHDRECOVER" create golden/base.vhdx --size 48M --block-size 1M
	qemu-io -c 'write -P 0xab 1M 6M' -c 'write -P 0xcd 40M 1M' golden/base.vhdx
	qemu-img convert -O raw golden/base.vhdx base.raw
	sha256sum golden/base.vhdx >sums
	"$VHDRECOVER" create vms/child.vhdx --parent golden/base.vhdx
	run "$VHDRECOVER" info --json vms/child.vhdx
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = differencing ]
	[ "$(jq -r '.parent_locator.entries.relative_path' <<<"$output")" = '..\golden\base.vhdx' ]
	[ "$(jq -r '.parent_locator.entries.parent_linkage' <<<"$output")" = \
		"{$(jq -r .parent.data_write_guid <<<"$output")}" ]
	[ "$(jq -r .block_size <<<"$output")" -eq $((2 * M)) ]
	# a zeroed sector bitmap for every chunk, as Hyper-V makes them
	[ "$(jq -r .blocks.sector_bitmaps_present <<<"$output")" -eq 1 ]
	# libvhdi follows the same linkage
	vhdiinfo vms/child.vhdx >vi.txt
	grep -q "Parent identifier.*$(jq -r .parent.data_write_guid <<<"$output")" vi.txt
	"$VHDRECOVER" convert vms/child.vhdx child.raw
	cmp child.raw base.raw
	run "$VHDRECOVER" check vms/child.vhdx
	[ "$output" = "vms/child.vhdx: clean" ]
	MNT=$VR_WORK/mnt
	mkdir "$MNT"
	(cd vms && vhdimount child.vhdx "$MNT" >/dev/null 2>&1 3>&-)
	for i in $(seq 50); do [ -e "$MNT/vhdi2" ] && break; sleep 0.1; done
	cmp "$MNT/vhdi2" base.raw
	sha256sum -c --quiet sums
}

@test "a differencing disk over a Windows-made base reads as the base" {
	corpus_extract dissect/fixed.vhdx.gz fixed.vhdx
	"$VHDRECOVER" create child.vhdx --parent fixed.vhdx
	"$VHDRECOVER" convert child.vhdx child.raw
	"$VHDRECOVER" convert fixed.vhdx base.raw
	cmp child.raw base.raw
	[ "$(sha_of base.raw)" = bc0be4623b15aa84216fb31ba24e3b621ec7f1c72d198c990ac0eced222d9f62 ]
}

@test "create refuses an existing file and leaves it as it was" {
	echo precious >d.vhdx
	run --separate-stderr "$VHDRECOVER" create d.vhdx --size 1M
	assert_one_line_error 'd\.vhdx: already exists'
	[ "$(cat d.vhdx)" = precious ]
}

@test "create refuses bad sizes and parents with one line and leaves no file" {
	run --separate-stderr "$VHDRECOVER" create d.vhdx --size 1000
	assert_one_line_error 'd\.vhdx: size 1000 is not a non-zero multiple of 512'
	run --separate-stderr "$VHDRECOVER" create d.vhdx --size 1M --block-size 3M
	assert_one_line_error 'd\.vhdx: block size .* power of 2'
	run --separate-stderr "$VHDRECOVER" create d.vhdx --size 1M --logical-sector 1024
	assert_one_line_error 'd\.vhdx: sector sizes must be 512 or 4096'
	run --separate-stderr "$VHDRECOVER" create d.vhdx --parent missing.vhdx
	assert_one_line_error 'missing\.vhdx: No such file'
	[ -z "$(ls)" ]
}

@test "create usage errors exit 2" {
	run --separate-stderr "$VHDRECOVER" create d.vhdx
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" create d.vhdx --size 1M --type sparse
	assert_usage_error
	"$VHDRECOVER" create base.vhdx --size 1M
	run --separate-stderr "$VHDRECOVER" create d.vhdx --parent base.vhdx --size 1M
	assert_usage_error
	[ ! -e d.vhdx ]
}

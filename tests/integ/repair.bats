#!/usr/bin/env bats
# repair.bats - "vhdrecover check --repair": replaying a pending log into
# the file, checked against qemu-img (which refuses a dirty image read-only
# and replays it with check -r all) and the corpus README's hashes.

load helpers

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

# repair_dirty REL SHA: decompress a dirty-log corpus image, repair it, and
# check that qemu-img now opens it and it reads as the README says.
repair_dirty()
{
	local rel=$1 sha=$2

	corpus_extract "$rel" d.vhdx
	# the untouched image needs replay: qemu-img refuses it read-only
	run qemu-img info d.vhdx
	[ "$status" -ne 0 ]
	run "$VHDRECOVER" check --repair d.vhdx
	[ "$status" -eq 0 ]
	[[ ${lines[0]} =~ ^d\.vhdx:\ replayed\ [1-9][0-9]*\ log\ entries ]]
	[ "${lines[1]}" = "d.vhdx: clean" ]
	qemu-img check d.vhdx
	qemu-img convert -O raw d.vhdx qemu.raw
	[ "$(sha_of qemu.raw)" = "$sha" ]
	"$VHDRECOVER" convert d.vhdx ours.raw
	cmp ours.raw qemu.raw
	# nothing is left to replay
	run "$VHDRECOVER" check --repair --json d.vhdx
	[ "$(jq .log_entries_replayed <<<"$output")" -eq 0 ]
	json_true "$output" .clean
}

@test "check --repair replays qemu's dirty log into the file; qemu-img then reads it as after its own replay" {
	repair_dirty qemu/iotest-dirtylog-10G-4M.vhdx.bz2 \
		179cefe8b0587f123393eedf2aa7aa8d25798591178e6bc3950a09762f38f96f
}

@test "check --repair replays Windows' dirty log into the file; qemu-img then reads it as after its own replay" {
	repair_dirty adiskreader/small_ntfs_test.vhdx.gz \
		759cc6aaf5af4887c977d8b0638e3f6567dea807a0b1b0cc7310bcaec36ed2fc
}

@test "check --repair refuses a damaged log with one line and leaves the file as it was" {
	corpus_extract qemu/iotest-dirtylog-10G-4M.vhdx.bz2 d.vhdx
	# flip one byte inside the active entry's data sector (the entry
	# carrying the header's LogGuid; find it by its "loge" signature)
	python3 - d.vhdx <<'PY'
import struct, sys
p = sys.argv[1]
with open(p, 'r+b') as f:
    hdrs = []
    for off in (64 * 1024, 128 * 1024):
        f.seek(off)
        h = f.read(80)
        hdrs.append((struct.unpack_from('<Q', h, 8)[0], h))
    h = max(hdrs)[1]
    guid = h[48:64]
    length, log = struct.unpack_from('<IQ', h, 68)
    f.seek(log)
    region = f.read(length)
    for pos in range(0, length, 4096):
        if region[pos:pos + 4] == b'loge' and region[pos + 32:pos + 48] == guid:
            f.seek(log + pos + 4096 + 100)
            b = f.read(1)
            f.seek(log + pos + 4096 + 100)
            f.write(bytes([b[0] ^ 0xff]))
            break
    else:
        sys.exit('no active entry')
PY
	sha256sum d.vhdx >sums
	run --separate-stderr "$VHDRECOVER" check --repair d.vhdx
	assert_one_line_error 'd\.vhdx: .*log'
	sha256sum -c --quiet sums
}

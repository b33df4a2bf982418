#!/usr/bin/env bats
# serve.bats - the NBD export (vhdrecover serve: nbdkit + our plugin) and
# change tracking (vhdrecover changes), driven by real NBD clients: qemu-io
# and qemu-img over nbd+unix://, nbdinfo and nbdcopy from libnbd-bin.

load helpers

M=$((1024 * 1024))

setup()
{
	vr_setup
	SERVER=
}

teardown()
{
	[[ -z $SERVER ]] || kill -9 "$SERVER" 2>/dev/null || true
	vr_teardown
}

# serve_start DISK [serve options]: export DISK on ./nbd.sock, wait until it
# answers; SERVER is nbdkit's pid (serve execs it).
serve_start()
{
	local i

	rm -f nbd.sock
	"$VHDRECOVER" serve "$@" --socket "$PWD/nbd.sock" 2>serve.log 3>&- &
	SERVER=$!
	for i in $(seq 100); do
		nbdinfo --size "$(uri)" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat serve.log
	return 1
}

# serve_stop [SIGNAL]: stop the server (TERM: clean) and wait for it.
serve_stop()
{
	kill -"${1:-TERM}" "$SERVER"
	wait "$SERVER" || true
	SERVER=
}

# The socket lives in the test's work directory.
uri()
{
	echo "nbd+unix:///?socket=$PWD/nbd.sock"
}

# random_ops N SEED SIZE GRAN: a qemu-io script of N writes, zeroes and
# trims (script.io) and the granules they touch, one per line (touched).
random_ops()
{
	python3 - "$@" <<'EOF'
import random, sys
n, seed, size, gran = (int(x) for x in sys.argv[1:5])
rng = random.Random(seed)
touched = set()
with open("script.io", "w") as f:
    for i in range(n):
        sectors = rng.choice([1, 2, 8, 64, 300, 2048])
        off = rng.randrange(0, size // 512 - sectors) * 512
        length = sectors * 512
        kind = rng.random()
        if kind < 0.7:
            f.write("write -q -P %d %d %d\n" % (1 + i % 250, off, length))
        elif kind < 0.85:
            f.write("write -q -z %d %d\n" % (off, length))
        else:
            f.write("discard -q %d %d\n" % (off, length))
        touched.update(range(off // gran, (off + length - 1) // gran + 1))
    f.write("flush\n")
with open("touched", "w") as f:
    for g in sorted(touched):
        f.write("%d\n" % g)
EOF
}

# granules_of JSON GRAN: the granules the changes' extents cover.
granules_of()
{
	jq -r --argjson g "$2" '.extents[] |
		range(.offset / $g | floor; (.offset + .length - 1) / $g | floor + 1)' \
		<<<"$1"
}

@test "1000 random writes, zeroes and trims through the export: changes reports exactly their granules" {
	"$VHDRECOVER" create d.vhdx --size 256M --block-size 1M
	"$VHDRECOVER" changes --reset d.vhdx
	serve_start d.vhdx
	random_ops 1000 "$RANDOM" $((256 * M)) 65536
	qemu-io -f raw "$(uri)" <script.io >/dev/null
	serve_stop TERM
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.trusted == true and .granularity == 65536 and
		.generation == 1'
	granules_of "$output" 65536 >reported
	# every touched granule reported, nothing else
	diff touched reported
	[ "$(wc -l <touched)" -gt 500 ]
}

@test "a clean restart keeps the changes; after SIGKILL changes are untrusted and cover the whole disk" {
	"$VHDRECOVER" create d.vhdx --size 64M --block-size 1M
	"$VHDRECOVER" changes --reset --granularity 1M d.vhdx
	serve_start d.vhdx
	qemu-io -f raw -c 'write -P 1 1M 4k' "$(uri)" >/dev/null
	serve_stop TERM
	serve_start d.vhdx
	qemu-io -f raw -c 'write -P 2 10M 2M' "$(uri)" >/dev/null
	serve_stop TERM
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.trusted and .extents == [
		{"offset": 1048576, "length": 1048576},
		{"offset": 10485760, "length": 2097152}]'
	# text form
	run "$VHDRECOVER" changes d.vhdx
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "d.vhdx: trusted, generation 1, granularity 1048576" ]
	[ "${lines[1]}" = "0x100000 1048576" ]

	serve_start d.vhdx
	qemu-io -f raw -c 'write -P 3 30M 4k' "$(uri)" >/dev/null
	serve_stop KILL
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 3 ]
	json_true "$output" '.trusted == false and
		(.reason | test("did not close cleanly")) and
		.extents == [{"offset": 0, "length": 67108864}]'
	# a clean restart does not make it trusted again: only a reset does
	serve_start d.vhdx
	serve_stop TERM
	run "$VHDRECOVER" changes d.vhdx
	[ "$status" -eq 3 ]
	[[ ${lines[0]} == *"untrusted"* ]]
	run "$VHDRECOVER" changes --reset --json d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.reset and .generation == 2'
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.trusted and .extents == []'
}

@test "a disk written behind our back, re-created, or of another generation is untrusted" {
	"$VHDRECOVER" create base.vhdx --size 32M --block-size 1M
	"$VHDRECOVER" create d.vhdx --size 32M --block-size 1M
	"$VHDRECOVER" changes --reset d.vhdx
	run "$VHDRECOVER" changes --expect-generation 1 d.vhdx
	[ "$status" -eq 0 ]
	run --separate-stderr "$VHDRECOVER" changes --json --expect-generation 7 d.vhdx
	[ "$status" -eq 3 ]
	json_true "$output" '.trusted == false and (.reason | test("generation"))'

	# qemu-io writes the disk directly: a new DataWriteGuid
	qemu-io -f vhdx -c 'write -P 9 0 4k' d.vhdx >/dev/null
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 3 ]
	json_true "$output" '.trusted == false and (.reason | test("without tracking"))'

	# a differencing disk re-created under the same name: another disk
	"$VHDRECOVER" create c.vhdx --parent base.vhdx
	"$VHDRECOVER" changes --reset c.vhdx
	"$VHDRECOVER" write c.vhdx 0 <(head -c 4096 /dev/urandom)
	run "$VHDRECOVER" changes c.vhdx
	[ "$status" -eq 0 ]
	rm c.vhdx
	"$VHDRECOVER" create c.vhdx --parent base.vhdx
	run "$VHDRECOVER" changes --json c.vhdx
	[ "$status" -eq 3 ]
	json_true "$output" '.trusted == false and (.reason | test("another disk"))'

	# a damaged sidecar
	"$VHDRECOVER" changes --reset c.vhdx
	flip_byte c.vhdx.cbt 30
	run "$VHDRECOVER" changes --json c.vhdx
	[ "$status" -eq 3 ]
	json_true "$output" '.trusted == false and (.reason | test("damaged"))'
}

@test "qemu-img convert of 1 GiB into the export: compare says identical, unallocated ranges are holes" {
	"$VHDRECOVER" create d.vhdx --size 1G --block-size 2M
	head -c $((300 * M)) /dev/urandom >src.raw
	truncate -s $((700 * M)) src.raw
	head -c $((100 * M)) /dev/urandom >>src.raw
	truncate -s 1G src.raw
	serve_start d.vhdx
	qemu-img convert -n --target-is-zero -f raw -O raw src.raw "$(uri)"
	qemu-img compare -f raw -F raw "$(uri)" src.raw
	nbdinfo --map "$(uri)" >map.txt
	cat map.txt
	# the 400 MiB of zeros between the data and the 224 MiB at the end
	grep -Eq "^ +314572800 +419430400 +3 +hole,zero" map.txt
	grep -Eq "^ +838860800 +234881024 +3 +hole,zero" map.txt
	# nbdcopy reads it back the same
	nbdcopy "$(uri)" copy.raw
	cmp copy.raw src.raw
	serve_stop TERM
	qemu-img check d.vhdx
	qemu-img compare -f vhdx -F raw d.vhdx src.raw
}

@test "serve refuses a second writer, a missing disk and bad usage; --readonly exports without tracking" {
	"$VHDRECOVER" create d.vhdx --size 16M
	serve_start d.vhdx
	run --separate-stderr "$VHDRECOVER" write d.vhdx 0 <(head -c 512 /dev/zero)
	assert_one_line_error '^vhdrecover: d\.vhdx: in use by a writer'
	run --separate-stderr "$VHDRECOVER" changes d.vhdx
	assert_one_line_error '^vhdrecover: d\.vhdx: in use by a writer'
	serve_stop TERM

	local sum
	sum=$(sha_of d.vhdx)
	serve_start d.vhdx --readonly
	run qemu-io -f raw -c 'write 0 4k' "$(uri)"
	[ "$status" -ne 0 ]
	qemu-io -r -f raw -c 'read -P 0 0 4k' "$(uri)" >/dev/null
	serve_stop TERM
	[ "$(sha_of d.vhdx)" = "$sum" ]

	run "$VHDRECOVER" serve nosuch.vhdx --socket "$PWD/x.sock"
	[ "$status" -ne 0 ]
	[[ $output == *"nosuch.vhdx"* ]]
	run --separate-stderr "$VHDRECOVER" serve d.vhdx --socket a --port 1
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" changes --granularity 1M d.vhdx
	assert_usage_error
}

@test "the plugin runs under nbdkit directly; SIGUSR1 saves the bitmap at the next request" {
	local plugin=${TOP_BUILDDIR:-$PWD/build}/src/nbdkit-vhdrecover-plugin.so
	run nbdkit --dump-plugin "$plugin"
	[ "$status" -eq 0 ]
	[[ $output == *"name=vhdrecover"* ]]
	[[ $output == *"thread_model=serialize_all_requests"* ]]

	"$VHDRECOVER" create d.vhdx --size 16M
	"$VHDRECOVER" changes --reset --granularity 4K d.vhdx
	nbdkit -f -U "$PWD/nbd.sock" "$plugin" file=d.vhdx 2>serve.log 3>&- &
	SERVER=$!
	local i
	for i in $(seq 100); do
		nbdinfo --size "$(uri)" >/dev/null 2>&1 && break
		sleep 0.1
	done
	qemu-io -f raw -c 'write -P 7 8k 4k' "$(uri)" >/dev/null
	local before
	before=$(sha_of d.vhdx.cbt)
	kill -USR1 "$SERVER"
	sleep 0.2
	# the next request saves it (still not clean: the disk is open)
	qemu-io -r -f raw -c 'read -P 7 8k 4k' "$(uri)" >/dev/null
	[ "$(sha_of d.vhdx.cbt)" != "$before" ]
	serve_stop TERM
	run "$VHDRECOVER" changes --json d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.extents == [{"offset": 8192, "length": 4096}]'

	# a file that is no VHDX: nbdkit stops at once with our message
	head -c 1M /dev/zero >plain.raw
	run nbdkit -f -U "$PWD/x.sock" "$plugin" file=plain.raw
	[ "$status" -ne 0 ]
	[[ $output == *"plain.raw"* ]]
}

# pit_check RAW: the stamps of pit_writes in RAW must be an instant of the
# writer: pass k over blocks 0..N-1 in order, so each block holds pass k or
# k-1, and the blocks with pass k are a prefix. Prints the number of
# stamps seen (passes finished x N + prefix), fails otherwise.
pit_check()
{
	python3 - "$1" <<'EOF2'
import sys
d = open(sys.argv[1], 'rb').read()
v = [d[i * 65536] for i in range(500)]
if any(x not in (0, 1, 2, 3) for x in v):
    sys.exit("a block holds no stamp: %r" % sorted(set(v)))
if any(v[i] < v[i + 1] for i in range(499)) or v[0] - v[-1] > 1:
    sys.exit("not one instant of the writer: %r" % v)
print(sum(v))
EOF2
}

@test "replicate while serving takes the disk at one instant; writes during the cycle are neither lost nor in the point" {
	"$VHDRECOVER" create d.vhdx --size 32M
	"$VHDRECOVER" repo init r
	serve_start d.vhdx
	# three passes stamping 4 KiB at the start of each of 500 chunks
	python3 -c '
for p in (1, 2, 3):
    for i in range(500):
        print("write -P %d %d 4096" % (p, i * 65536))
        print("flush")' >w.io
	(qemu-io -f raw "$(uri)" <w.io >/dev/null && touch writer.done) &
	local writer=$! cycles=0
	while [[ ! -e writer.done ]] && kill -0 "$writer" 2>/dev/null; do
		"$VHDRECOVER" replicate --no-progress r d.vhdx >/dev/null
		cycles=$((cycles + 1))
	done
	wait "$writer"
	[ -e writer.done ]
	# one more cycle after the writer ended, still served
	"$VHDRECOVER" replicate --no-progress r d.vhdx >/dev/null
	qemu-img convert -f raw -O raw "$(uri)" live.raw
	serve_stop TERM

	# every point is one instant, and points follow the writer in order
	local id seen last=-1 partial=0
	for id in $("$VHDRECOVER" points --json r | jq -r '.[].id'); do
		"$VHDRECOVER" restore --no-progress r "$id" --to p.raw >/dev/null
		seen=$(pit_check p.raw)
		[ "$seen" -ge "$last" ]
		last=$seen
		((seen % 500 == 0)) || partial=$((partial + 1))
	done
	echo "# $cycles cycles during the writes, $partial caught it mid-pass" >&3
	[ "$partial" -ge 1 ]
	# the last point, after the writer: every write is there
	[ "$last" -eq 1500 ]
	cmp live.raw p.raw
	# and the disk itself kept them all, read with the server gone
	"$VHDRECOVER" convert d.vhdx after.raw
	cmp live.raw after.raw
	# the bitmap the server kept lets the next cycle go on incrementally
	run "$VHDRECOVER" replicate --json r d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.full_scan == false and .bytes_read == 0'
}

@test "a cycle killed while the disk is frozen loses no change: the next cycle ships it" {
	"$VHDRECOVER" create d.vhdx --size 16M
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" replicate r d.vhdx >/dev/null
	serve_start d.vhdx
	qemu-io -f raw -c 'write -P 9 1M 64k' "$(uri)" >/dev/null
	# kill a cycle inside its freeze: its post hook runs after the freeze
	"$VHDRECOVER" replicate r d.vhdx --post 'sleep 3' >/dev/null 2>&1 &
	local cycle=$!
	sleep 1
	kill -9 "$cycle"
	wait "$cycle" || true
	[ "$("$VHDRECOVER" points --json r | jq length)" -eq 1 ]
	# the freeze was undone: the change is still marked
	run "$VHDRECOVER" replicate --json r d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.full_scan == false and .chunks_read == 1'
	serve_stop TERM
	"$VHDRECOVER" restore r latest --to p.raw >/dev/null
	"$VHDRECOVER" convert d.vhdx d.raw
	cmp p.raw d.raw
}

#!/usr/bin/env bats
# replicate.bats - replication cycles, recovery points and restore
# (vhdrecover replicate, points, restore) and repo check naming what damage
# costs. Every restored point is compared with a raw mirror of its cycle
# (SHA-256), read back by our convert and by libvhdi's vhdimount; the
# repository's growth and the bytes restore fetches are held to the delta;
# repositories are damaged, filled up and their writers killed.

# shellcheck disable=SC2154 # status, output, stderr: set by bats' run
load helpers

M=$((1024 * 1024))
K=1024
CS=65536 # the repositories' chunk size (repo init's default)

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

# ---- helpers of this file (shared ones come from helpers.bash) ----

# rand_writes DISK MIRROR N SEED [ZERO_PERCENT [MIN [MAX [ALIGN]]]]: N
# random writes (sector-aligned offsets, log-uniform lengths MIN..MAX, 4K
# and 2M by default; ZERO_PERCENT of them `write --zero`) into DISK through
# `vhdrecover write` (tracked), the same bytes into the raw MIRROR. The
# chunks they touch, one index a line, go to ./touched; the bytes of data
# (not zero) written to ./written_bytes.
rand_writes()
{
	local disk=$1 mirror=$2 kind off arg

	python3 - "$mirror" "$3" "$4" "${5:-15}" "${6:-4096}" \
		"${7:-$((2 * M))}" "${8:-512}" "$CS" <<'EOF' >ops || return 1
import math, os, random, sys
mirror = sys.argv[1]
n, seed, zpct, lo, hi, align, cs = (int(x) for x in sys.argv[2:9])
rng = random.Random(seed)
size = os.path.getsize(mirror)
touched, written = set(), 0
with open(mirror, "r+b") as m:
    for i in range(n):
        length = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        length = max(align, length // align * align)
        off = rng.randrange(0, (size - length) // align + 1) * align
        m.seek(off)
        if rng.randrange(100) < zpct:
            m.write(bytes(length))
            print("z %d %d" % (off, length))
        else:
            data = rng.randbytes(length)
            with open("op%d.bin" % i, "wb") as f:
                f.write(data)
            m.write(data)
            written += length
            print("w %d op%d.bin" % (off, i))
        touched.update(range(off // cs, (off + length - 1) // cs + 1))
with open("touched", "w") as f:
    f.write("".join("%d\n" % c for c in sorted(touched)))
with open("written_bytes", "w") as f:
    f.write("%d\n" % written)
EOF
	while read -r kind off arg; do
		if [[ $kind == z ]]; then
			"$VHDRECOVER" write --zero "$arg" "$disk" "$off" || return 1
		else
			"$VHDRECOVER" write "$disk" "$off" "$arg" || return 1
			rm -f "$arg"
		fi
	done <ops
}

# packs_of REPO: the pack files of REPO, one name a line, sorted.
packs_of()
{
	find "$1/packs" -name '*.pack' -printf '%f\n' | sort
}

# new_pack BEFORE REPO: the one pack REPO holds now and BEFORE (a packs_of
# output) did not.
new_pack()
{
	local p

	p=$(comm -13 <(echo "$1") <(packs_of "$2"))
	if [[ -z $p || $p == *$'\n'* ]]; then
		echo "expected one new pack, got: '$p'" >&2
		return 1
	fi
	echo "${p%.pack}"
}

# ---- the tests ----

# gold_and_child SIZE DATA [create options]: a repository r; base.vhdx of
# SIZE whose first DATA bytes are random (the file golden), registered as
# base gold; child.vhdx, a differencing disk over it.
gold_and_child()
{
	local size=$1 data=$2
	shift 2
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create base.vhdx --size "$size" "$@"
	head -c "$data" /dev/urandom >golden
	"$VHDRECOVER" write base.vhdx 0 golden
	"$VHDRECOVER" base add r base.vhdx --name gold
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
}

# reads_as VHDX SUM: our reader and libvhdi's vhdimount both read VHDX
# (with its chain) as the disk whose SHA-256 is SUM.
reads_as()
{
	local got
	"$VHDRECOVER" convert "$1" back.raw
	[ "$(sha_of back.raw)" = "$2" ]
	vhdi_mount "$1" mnt
	got=$(sha_of "$VHDI_TOP")
	vhdi_umount mnt
	[ "$got" = "$2" ]
}

@test "round trip: 10 cycles of a differencing disk over a registered base restore to raw, VHDX and differencing VHDX exactly" {
	local size=$((64 * M)) cyc id sum seed=$RANDOM
	local -a ids sums
	echo "seed $seed"
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create base.vhdx --size 64M
	truncate -s "$size" base.raw
	rand_writes base.vhdx base.raw 8 "$seed" 0 $((256 * K)) $((2 * M))
	run "$VHDRECOVER" base add --json r base.vhdx --name gold
	[ "$status" -eq 0 ]
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	cp --sparse=always base.raw m.raw

	for cyc in $(seq 10); do
		rand_writes child.vhdx m.raw 12 $((seed + cyc))
		sums[cyc]=$(sha_of m.raw)
		# the mirror is what the disk holds (else the test is wrong)
		[ "$(disk_sha child.vhdx)" = "${sums[cyc]}" ]
		run --separate-stderr "$VHDRECOVER" replicate --json r child.vhdx
		echo "cycle $cyc: $output $stderr"
		[ "$status" -eq 0 ]
		json_true "$output" '.disk == "child" and .base == "gold" and
			(.id | startswith("child-")) and .consistent == false'
		if ((cyc == 1)); then
			json_true "$output" '.full_scan and
				.scan_reason == "first cycle"'
		else
			json_true "$output" '.full_scan == false and
				.chunks_read > 0 and .chunks_changed > 0'
		fi
		ids[cyc]=$(jq -r .id <<<"$output")
	done
	# the base was never written
	[ "$(disk_sha base.vhdx)" = "$(sha_of base.raw)" ]

	run --separate-stderr "$VHDRECOVER" points --json --disk child r
	[ "$status" -eq 0 ]
	json_true "$output" 'length == 10 and
		all(.[]; .disk == "child" and .base == "gold" and
			.size == $size and .consistent == false and
			.expires == null and (.time |
			test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")))
		and ([.[].full_scan] == [true] + [range(9) | false])' \
		--argjson size "$size"
	[ "$(jq -r '.[].id' <<<"$output" | sort)" = \
		"$(printf '%s\n' "${ids[@]}" | sort)" ]

	for cyc in $(seq 10); do
		id=${ids[cyc]}
		# raw
		run --separate-stderr "$VHDRECOVER" restore r "$id" --to "p$cyc.raw"
		[ "$status" -eq 0 ]
		[ "$(sha_of "p$cyc.raw")" = "${sums[cyc]}" ]
		rm -f "p$cyc.raw"
		# standalone VHDX: our reader, libvhdi's
		"$VHDRECOVER" restore r "$id" --to "p$cyc.vhdx"
		reads_as "p$cyc.vhdx" "${sums[cyc]}"
		rm -f "p$cyc.vhdx"
		# differencing over the local base
		run --separate-stderr "$VHDRECOVER" restore --json r "$id" \
			--to "d$cyc.vhdx" --parent base.vhdx
		[ "$status" -eq 0 ]
		json_true "$output" '.parent == "base.vhdx" and
			.format == "vhdx" and .base_bytes_verified > 0'
		reads_as "d$cyc.vhdx" "${sums[cyc]}"
		rm -f "d$cyc.vhdx"
	done
	# latest and DISK:latest are the last cycle
	"$VHDRECOVER" restore r latest --to l.raw
	[ "$(sha_of l.raw)" = "${sums[10]}" ]
	"$VHDRECOVER" restore r child:latest --to l.raw
	[ "$(sha_of l.raw)" = "${sums[10]}" ]
	run "$VHDRECOVER" repo check --read-data r
	[ "$status" -eq 0 ]
	[[ $output == *"; clean" ]]
}

@test "logical backup: a point stores only its delta, and restore --parent fetches only the delta" {
	local size=$((128 * M)) cyc seed=$RANDOM before after growth nbytes
	local rawfetch
	local -a ids sums deltas
	echo "seed $seed"
	gold_and_child 128M $((32 * M))
	"$VHDRECOVER" convert base.vhdx m.raw
	: >all_touched
	for cyc in 1 2 3 4; do
		# incompressible data in whole chunks, over the base's data
		# and beyond it
		rand_writes child.vhdx m.raw 6 $((seed + cyc)) 0 $CS $((512 * K)) $CS
		nbytes=$(<written_bytes)
		sort -nu touched all_touched >t && mv t all_touched
		before=$(du -sb r | cut -f1)
		run --separate-stderr "$VHDRECOVER" replicate --json r child.vhdx
		echo "cycle $cyc ($nbytes bytes written): $output $stderr"
		[ "$status" -eq 0 ]
		after=$(du -sb r | cut -f1)
		growth=$((after - before))
		echo "repository grew by $growth bytes"
		# every chunk written is new; nothing of the base is stored again
		json_true "$output" '.chunks_new == $n and .bytes_new == $n * 65536' \
			--argjson n "$(wc -l <touched)"
		# what was written, plus 64 KiB of indexes, headers and manifest
		((growth <= nbytes + 64 * K))
		((growth >= $(wc -l <touched) * CS))
		ids[cyc]=$(jq -r .id <<<"$output")
		sums[cyc]=$(sha_of m.raw)
		deltas[cyc]=$(wc -l <all_touched)
	done
	for cyc in 1 2 3 4; do
		run --separate-stderr "$VHDRECOVER" restore --json r "${ids[cyc]}" \
			--to "d$cyc.vhdx" --parent base.vhdx
		echo "point $cyc (${deltas[cyc]} chunks differ from the base): $output"
		[ "$status" -eq 0 ]
		json_true "$output" '.chunks_fetched == $n and .bytes_fetched <= $n * 65536 and
			.base_bytes_verified >= 33554432 and
			.base_bytes_verified <= 134217728' \
			--argjson n "${deltas[cyc]}"
		"$VHDRECOVER" convert "d$cyc.vhdx" back.raw
		[ "$(sha_of back.raw)" = "${sums[cyc]}" ]
		# a raw restore fetches the base's chunks too
		run --separate-stderr "$VHDRECOVER" restore --json r "${ids[cyc]}" \
			--to "p$cyc.raw"
		[ "$status" -eq 0 ]
		rawfetch=$(jq .chunks_fetched <<<"$output")
		((rawfetch >= 512 && rawfetch > deltas[cyc]))
		[ "$(sha_of "p$cyc.raw")" = "${sums[cyc]}" ]
	done
}

@test "an incremental cycle reads exactly the chunks that scattered 4 KiB writes touched" {
	local disk seed=$RANDOM n
	echo "seed $seed"
	gold_and_child 256M $((8 * M))
	"$VHDRECOVER" create alone.vhdx --size 256M --block-size 1M
	for disk in child alone; do
		seed=$((seed + 2))
		"$VHDRECOVER" convert "$disk.vhdx" m.raw
		rand_writes "$disk.vhdx" m.raw 20 "$seed" 0 $((64 * K)) $((64 * K))
		run "$VHDRECOVER" replicate --json r "$disk.vhdx"
		[ "$status" -eq 0 ]
		json_true "$output" '.full_scan'
		# 60 writes of 4 KiB, each at a random sector: some straddle
		# two chunks, some share one
		rand_writes "$disk.vhdx" m.raw 60 $((seed + 1)) 0 4096 4096
		n=$(wc -l <touched)
		run "$VHDRECOVER" replicate --json r "$disk.vhdx"
		echo "$disk: $n chunks touched: $output"
		[ "$status" -eq 0 ]
		json_true "$output" '.full_scan == false and
			.chunks_read == $n and .bytes_read == $n * 65536 and
			.chunks_changed == $n and .chunks_new == $n' \
			--argjson n "$n"
		# nothing written: nothing read
		run "$VHDRECOVER" replicate --json r "$disk.vhdx"
		json_true "$output" '.full_scan == false and .chunks_read == 0 and
			.bytes_read == 0 and .chunks_changed == 0 and
			.bytes_new == 0'
		"$VHDRECOVER" restore r "$disk:latest" --to out.raw
		cmp out.raw m.raw
	done
}

@test "a disk written behind our back (qemu-io) is resynced by a full scan, and the point is the disk" {
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 64M --block-size 1M
	head -c $((3 * M)) /dev/urandom >a
	"$VHDRECOVER" write d.vhdx 1M a
	run "$VHDRECOVER" replicate --json r d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.full_scan and .scan_reason == "first cycle"'
	head -c $((64 * K)) /dev/urandom >b
	"$VHDRECOVER" write d.vhdx 10M b
	run "$VHDRECOVER" replicate --json r d.vhdx
	json_true "$output" '.full_scan == false and .chunks_read == 1'

	# untracked: qemu-io changes the DataWriteGuid, not d.vhdx.cbt
	qemu-io -f vhdx -c 'write -P 0x5a 0 64k' -c 'write -P 0xa5 20M 100k' \
		d.vhdx >/dev/null
	run --separate-stderr "$VHDRECOVER" replicate --json r d.vhdx
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	json_true "$output" '.full_scan and (.scan_reason | startswith("resync"))
		and .chunks_changed == 3'
	"$VHDRECOVER" restore r latest --to out.raw
	qemu-img convert -f vhdx -O raw d.vhdx qemu.raw
	cmp out.raw qemu.raw
	[ "$(file_range out.raw $((20 * M)) 4)" = $'\xa5\xa5\xa5\xa5' ]
	run "$VHDRECOVER" points --json r
	json_true "$output" '[.[].full_scan] == [true, false, true]'

	# tracked again from here on
	"$VHDRECOVER" write d.vhdx 30M b
	run "$VHDRECOVER" replicate --json r d.vhdx
	json_true "$output" '.full_scan == false and .chunks_read == 1'
	"$VHDRECOVER" restore r d:latest --to out.vhdx
	qemu-img compare -f vhdx -F vhdx out.vhdx d.vhdx

	# a raw image has no change tracking: every cycle is a full scan
	qemu-img convert -f vhdx -O raw d.vhdx img.raw
	run "$VHDRECOVER" replicate --json r img.raw
	json_true "$output" '.full_scan and .disk == "img" and .base == ""'
	run "$VHDRECOVER" replicate --json r img.raw
	json_true "$output" '.full_scan and
		(.scan_reason | startswith("resync")) and .chunks_new == 0'
	"$VHDRECOVER" restore r img:latest --to out.raw
	cmp out.raw img.raw
}

@test "repo check names every lost chunk and the points it costs; restore of those fails with one line, the others still restore" {
	local p h out
	local -A pk id sum
	"$VHDRECOVER" repo init r
	# disks a, b, d, e: point 1 writes 64 KiB at 0, point 2 64 KiB at
	# 8M; each cycle's new chunk lands in a pack of its own
	for p in a b d e; do
		"$VHDRECOVER" create $p.vhdx --size 64M
		head -c $((64 * K)) /dev/urandom >$p.1
		head -c $((64 * K)) /dev/urandom >$p.2
		"$VHDRECOVER" write $p.vhdx 0 $p.1
		out=$(packs_of r)
		id[${p}1]=$("$VHDRECOVER" replicate --json r $p.vhdx | jq -r .id)
		pk[${p}1]=$(new_pack "$out" r)
		sum[${p}1]=$(disk_sha $p.vhdx)
		"$VHDRECOVER" write $p.vhdx 8M $p.2
		out=$(packs_of r)
		id[${p}2]=$("$VHDRECOVER" replicate --json r $p.vhdx | jq -r .id)
		pk[${p}2]=$(new_pack "$out" r)
	done
	# f: a differencing disk over the base gold, whose one chunk is at 0
	"$VHDRECOVER" create gold.vhdx --size 64M
	head -c $((64 * K)) /dev/urandom >gold.1
	"$VHDRECOVER" write gold.vhdx 0 gold.1
	out=$(packs_of r)
	"$VHDRECOVER" base add r gold.vhdx --name gold
	pk[gold]=$(new_pack "$out" r)
	"$VHDRECOVER" create f.vhdx --parent gold.vhdx
	head -c $((64 * K)) /dev/urandom >f.1
	"$VHDRECOVER" write f.vhdx 4M f.1
	id[f1]=$("$VHDRECOVER" replicate --json r f.vhdx | jq -r .id)
	sum[f1]=$(disk_sha f.vhdx)
	"$VHDRECOVER" repo check --read-data r
	[ "$(point_ids r | wc -l)" -eq 9 ]
	a1=${id[a1]} a2=${id[a2]} b1=${id[b1]} b2=${id[b2]} d1=${id[d1]}
	d2=${id[d2]} e1=${id[e1]} e2=${id[e2]} f1=${id[f1]}

	# a2: a byte of its chunk's data flipped (the record's 48-byte header
	# is at 8, after the pack magic)
	flip_byte "r/packs/${pk[a2]}.pack" $((8 + 48 + 1000))
	# b2: the index of its chunk's pack deleted
	rm "r/packs/${pk[b2]}.idx"
	# e1 and e2 share e1's chunk: its whole pack deleted
	rm "r/packs/${pk[e1]}.pack" "r/packs/${pk[e1]}.idx"
	# d2: its manifest truncated
	truncate -s 300 "r/points/$d2.point"
	# f1 over gold: the base's pack deleted, its index left
	rm "r/packs/${pk[gold]}.pack"

	run --separate-stderr "$VHDRECOVER" repo check --read-data r
	printf '%s\n' "$output"
	[ "$status" -eq 1 ]
	h=$(sha_of a.2)
	grep -qxF "r: chunk $h damaged: point $a2 at 0x800000" <<<"$output"
	h=$(sha_of b.2)
	grep -qxF "r: chunk $h missing: point $b2 at 0x800000" <<<"$output"
	h=$(sha_of e.1)
	grep -qxF "r: chunk $h missing: point $e1 at 0x0; point $e2 at 0x0" \
		<<<"$output"
	h=$(sha_of gold.1)
	grep -qE "^r: chunk $h (missing|damaged): .*base gold at 0x0" <<<"$output"
	grep -qE "^r: chunk $h (missing|damaged): .*point $f1 at 0x0" <<<"$output"
	grep -qF "$d2.point" <<<"$output"
	for p in "$a2" "$b2" "$d2" "$e1" "$e2" "$f1"; do
		grep -qxF "r: point $p cannot be restored whole" <<<"$output"
	done
	for p in "$a1" "$b1" "$d1"; do
		[ -z "$(grep -F "point $p " <<<"$output")" ]
	done
	assert_one_line_error '^vhdrecover: r: .*points cannot be restored whole'

	run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
	[ "$status" -eq 1 ]
	json_true "$output" '.clean == false and (.affected_points | sort) == $want and
		.damaged_manifests == 1 and .missing_chunks >= 2 and
		.bad_chunks >= 1 and .missing_chunks + .bad_chunks == 4 and
		(.problems | length) >= 10' \
		--argjson want "$(printf '%s\n' "$a2" "$b2" "$d2" \
		"$e1" "$e2" "$f1" | jq -R . | jq -s 'sort')"

	# the affected points do not restore, with one line naming the loss
	for p in "$a2" "$b2" "$e1" "$e2" "$f1"; do
		run --separate-stderr "$VHDRECOVER" restore r "$p" --to x.raw
		assert_one_line_error "^vhdrecover: r[:/].*(chunk|pack).*$p"
		[ ! -e x.raw ]
		run --separate-stderr "$VHDRECOVER" restore r "$p" --to x.vhdx
		assert_one_line_error "^vhdrecover: r[:/].*(chunk|pack).*$p"
		[ ! -e x.vhdx ]
	done
	run --separate-stderr "$VHDRECOVER" restore r "$d2" --to x.raw
	assert_one_line_error "^vhdrecover: r/points/$d2\.point: .*manifest"
	[ ! -e x.raw ]

	# the unaffected ones restore exactly
	"$VHDRECOVER" restore r "$a1" --to x.raw
	[ "$(sha_of x.raw)" = "${sum[a1]}" ]
	"$VHDRECOVER" restore r "$b1" --to x.vhdx
	"$VHDRECOVER" convert x.vhdx x.raw
	[ "$(sha_of x.raw)" = "${sum[b1]}" ]
	"$VHDRECOVER" restore r "$d1" --to x.raw
	[ "$(sha_of x.raw)" = "${sum[d1]}" ]
	# f1 lost only base chunks: over the local base it needs none of them
	"$VHDRECOVER" restore r "$f1" --to f.vhdx.new --parent gold.vhdx -O vhdx
	"$VHDRECOVER" convert f.vhdx.new x.raw
	[ "$(sha_of x.raw)" = "${sum[f1]}" ]
	# points still lists every readable point, and says which it left out
	run --separate-stderr "$VHDRECOVER" points --json r
	[ "$status" -eq 0 ]
	json_true "$output" 'length == 8'
	[[ $stderr == *"$d2"* ]]
	# with --disk, readable points of other disks are not called damaged
	run --separate-stderr "$VHDRECOVER" points --json --disk a r
	[ "$status" -eq 0 ]
	json_true "$output" 'length == 2'
	[[ $stderr == *"$d2"* && $stderr != *"$b1"* ]]
}

@test "a full repository defers the cycle with one line (exit 3); every earlier point still restores and nothing is lost" {
	local cyc sums=() ids=()
	mkdir small
	mount -t tmpfs -o size=16M tmpfs small
	VR_MOUNTS+=("$VR_WORK/small")
	"$VHDRECOVER" repo init small/r
	"$VHDRECOVER" create d.vhdx --size 128M --block-size 1M
	# two cycles of random data, three of data that compresses and
	# deduplicates to nothing: the planner expects a third of what is
	# read to be stored
	for cyc in 1 2 3 4 5; do
		if ((cyc <= 2)); then
			head -c $((3 * M)) /dev/urandom >w
		else
			head -c $((4 * M)) /dev/zero | tr '\0' "$cyc" >w
		fi
		"$VHDRECOVER" write d.vhdx $((cyc * 4 * M)) w
		run "$VHDRECOVER" replicate --json small/r d.vhdx
		[ "$status" -eq 0 ]
		ids+=("$(jq -r .id <<<"$output")")
		sums+=("$(disk_sha d.vhdx)")
	done
	# 20 MiB of random data: at that ratio it fits the ~9 MiB left, at
	# worst not ("tight"), so the cycle runs and the file system fills
	head -c $((20 * M)) /dev/urandom >big
	"$VHDRECOVER" write d.vhdx 32M big
	run --separate-stderr "$VHDRECOVER" replicate small/r d.vhdx
	assert_one_line_error '^vhdrecover: small/r.*No space left on device; cycle deferred, every point kept' 3
	[ "$(point_ids small/r | wc -l)" -eq 5 ]
	for cyc in 0 1 2 3 4; do
		"$VHDRECOVER" restore small/r "${ids[cyc]}" --to out.raw
		[ "$(sha_of out.raw)" = "${sums[cyc]}" ]
	done
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json small/r
	echo "$output"
	[ "$status" -eq 0 ]
	json_true "$output" '.clean and .missing_chunks == 0 and
		.bad_chunks == 0 and .damaged_manifests == 0 and
		.affected_points == [] and
		all(.problems[]; test("has no index"))'
	# once there is room, the next cycle stores what the failed one did
	# not (the change bitmap was kept)
	mount -o remount,size=96M small
	run --separate-stderr "$VHDRECOVER" replicate --json small/r d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.full_scan == false and .chunks_new == 320'
	"$VHDRECOVER" restore small/r latest --to out.raw
	[ "$(sha_of out.raw)" = "$(disk_sha d.vhdx)" ]
	run "$VHDRECOVER" repo check --read-data --json small/r
	json_true "$output" '.missing_chunks == 0 and .bad_chunks == 0'
}

@test "crash safety: replicate killed at 100 random moments loses no committed point and damages nothing" {
	local size=$((32 * M)) iter=0 kills=0 after=0 before=0 finished=0
	local pid st sum new off ms
	gold_and_child 32M $((4 * M)) --block-size 1M
	# pool: 8 MiB rewritten at chunk-aligned places, so each cycle reads
	# and hashes a lot but stores little; fresh: a few new chunks
	head -c $((8 * M)) /dev/urandom >pool
	"$VHDRECOVER" write child.vhdx 0 pool
	"$VHDRECOVER" replicate r child.vhdx >/dev/null
	while ((kills < 100 && iter < 400)); do
		iter=$((iter + 1))
		off=$(((RANDOM % (size / CS - 128)) * CS))
		"$VHDRECOVER" write child.vhdx "$off" pool
		head -c $(((RANDOM % 32 + 1) * 4096)) /dev/urandom >fresh
		"$VHDRECOVER" write child.vhdx $(((RANDOM % (size / 512 - 256)) * 512)) fresh
		sum=$(disk_sha child.vhdx)
		point_ids r >pts.before
		# (stderr quiet: bash reports killed jobs there)
		{
			"$VHDRECOVER" replicate r child.vhdx >/dev/null \
				2>replicate.err 3>&- &
			pid=$!
			ms=$((RANDOM % 30))
			sleep "0.0$(printf %02d "$ms")"
			kill -9 "$pid" || true
			st=0
			wait "$pid" || st=$?
		} 2>/dev/null
		new=$(comm -13 pts.before <(point_ids r))
		if ((st == 137)); then
			kills=$((kills + 1))
			if [[ -n $new ]]; then after=$((after + 1)); else before=$((before + 1)); fi
		elif ((st == 0)); then
			finished=$((finished + 1))
			[[ -n $new ]] || { echo "iteration $iter: exit 0, no point"; false; }
		else
			echo "iteration $iter: replicate exited $st: $(cat replicate.err)"
			false
		fi
		run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
		if [[ $status -ne 0 ]] || ! json_true "$output" \
			'.missing_chunks == 0 and .bad_chunks == 0 and
			.damaged_manifests == 0 and .affected_points == []'; then
			echo "iteration $iter (killed after ${ms} ms): $output $stderr"
			false
		fi
		if [[ -n $new ]]; then
			[[ $new != *$'\n'* ]]
			"$VHDRECOVER" restore r "$new" --to out.raw >/dev/null
			if [[ $(sha_of out.raw) != "$sum" ]]; then
				echo "iteration $iter: point $new is not the disk"
				false
			fi
		fi
		if ((iter % 10 == 0)); then
			run --separate-stderr "$VHDRECOVER" replicate --json r child.vhdx
			[ "$status" -eq 0 ]
			json_true "$output" '.base == "gold"'
			"$VHDRECOVER" restore r "$(jq -r .id <<<"$output")" \
				--to out.raw >/dev/null
			[ "$(sha_of out.raw)" = "$sum" ]
		fi
	done
	echo "# $kills of $kills kills survived ($iter cycles, $finished finished first), $after landed after commit, $before before" >&3
	((kills >= 100))
	((before >= 10))
	# the changes of the last killed cycles are in the next one
	run --separate-stderr "$VHDRECOVER" replicate r child.vhdx
	[ "$status" -eq 0 ]
	"$VHDRECOVER" restore r latest --to out.vhdx --parent base.vhdx
	"$VHDRECOVER" convert out.vhdx out.raw
	[ "$(sha_of out.raw)" = "$(disk_sha child.vhdx)" ]
}

@test "replicate, points and restore refuse bad input with one line" {
	"$VHDRECOVER" repo init r
	mkdir plain
	"$VHDRECOVER" create base.vhdx --size 16M
	head -c $((1 * M)) /dev/urandom >a
	"$VHDRECOVER" write base.vhdx 0 a
	"$VHDRECOVER" base add r base.vhdx --name gold
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	"$VHDRECOVER" write child.vhdx 4M a
	run "$VHDRECOVER" replicate r child.vhdx
	[ "$status" -eq 0 ]

	run --separate-stderr "$VHDRECOVER" replicate r nosuch.vhdx
	assert_one_line_error '^vhdrecover: nosuch\.vhdx: No such file'
	run --separate-stderr "$VHDRECOVER" replicate plain child.vhdx
	assert_one_line_error '^vhdrecover: plain: not a repository'
	run --separate-stderr "$VHDRECOVER" replicate nosuchrepo child.vhdx
	assert_one_line_error '^vhdrecover: nosuchrepo: not a repository'
	[ ! -e nosuchrepo ]
	run --separate-stderr "$VHDRECOVER" replicate r child.vhdx --name ../x
	assert_one_line_error "disk name '\.\./x'"
	run --separate-stderr "$VHDRECOVER" points plain
	assert_one_line_error '^vhdrecover: plain: not a repository'
	run --separate-stderr "$VHDRECOVER" restore r child-20000101T000000Z --to x.raw
	assert_one_line_error "^vhdrecover: r: no point 'child-20000101T000000Z'"
	run --separate-stderr "$VHDRECOVER" restore r ../../etc/passwd --to x.raw
	assert_one_line_error "^vhdrecover: r: no point"
	run --separate-stderr "$VHDRECOVER" restore r nosuch:latest --to x.raw
	assert_one_line_error "^vhdrecover: r: no point of disk 'nosuch'"
	run --separate-stderr "$VHDRECOVER" restore plain latest --to x.raw
	assert_one_line_error '^vhdrecover: plain: not a repository'
	[ ! -e x.raw ]

	# --parent: another image of the same size with other content
	"$VHDRECOVER" create other.vhdx --size 16M
	head -c $((1 * M)) /dev/urandom >b
	"$VHDRECOVER" write other.vhdx 0 b
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.vhdx \
		--parent other.vhdx
	assert_one_line_error '^vhdrecover: other\.vhdx: differs from base gold'
	[ ! -e x.vhdx ]
	# the base itself, with one sector changed since
	cp base.vhdx changed.vhdx
	head -c 512 /dev/urandom >s
	"$VHDRECOVER" write changed.vhdx 15M s
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.vhdx \
		--parent changed.vhdx
	assert_one_line_error '^vhdrecover: changed\.vhdx: differs from base gold at offset 0xf00000'
	[ ! -e x.vhdx ]
	# a base of another size
	"$VHDRECOVER" create small.vhdx --size 8M
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.vhdx \
		--parent small.vhdx
	assert_one_line_error '^vhdrecover: small\.vhdx: '
	[ ! -e x.vhdx ]
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.vhdx \
		--parent nosuch.vhdx
	assert_one_line_error '^vhdrecover: nosuch\.vhdx: No such file'
	# a point without a base
	"$VHDRECOVER" create alone.vhdx --size 16M
	"$VHDRECOVER" replicate r alone.vhdx
	run --separate-stderr "$VHDRECOVER" restore r alone:latest --to x.vhdx \
		--parent base.vhdx
	assert_one_line_error 'has no base'
	[ ! -e x.vhdx ]

	# usage
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.raw \
		--parent base.vhdx
	assert_usage_error
	[ ! -e x.raw ]
	run --separate-stderr "$VHDRECOVER" restore r latest
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" restore r latest --to x.raw -O qcow2
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" replicate r
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" replicate r child.vhdx --every 5m
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" points
	assert_usage_error
	# and none of it made a point
	[ "$(point_ids r | wc -l)" -eq 2 ]
}

@test "quiesce hooks: --pre and --post run around the instant and make the point application-consistent; a failed --pre makes none" {
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 16M
	head -c $((1 * M)) /dev/urandom >a
	"$VHDRECOVER" write d.vhdx 0 a
	run --separate-stderr "$VHDRECOVER" replicate --json r d.vhdx \
		--pre 'echo "pre $VR_HOOK $VR_DISK_NAME" >>hooks.log' \
		--post 'echo "post $VR_HOOK $VR_DISK_NAME" >>hooks.log'
	[ "$status" -eq 0 ]
	json_true "$output" '.consistent'
	[ "$(cat hooks.log)" = $'pre pre d\npost post d' ]
	run "$VHDRECOVER" points --json r
	json_true "$output" 'length == 1 and .[0].consistent'
	run "$VHDRECOVER" points r
	[[ ${lines[1]} == *" application -" ]] # no expiry: no retention

	# without hooks: crash-consistent
	run "$VHDRECOVER" replicate --json r d.vhdx
	json_true "$output" '.consistent == false'

	# a failing --pre cancels the cycle: no point, --post not run
	"$VHDRECOVER" write d.vhdx 2M a
	run --separate-stderr "$VHDRECOVER" replicate r d.vhdx --pre 'exit 3' \
		--post 'echo post >>hooks2.log'
	assert_one_line_error "^vhdrecover: .*pre 'exit 3' exited with 3"
	[ "$(point_ids r | wc -l)" -eq 2 ]
	[ ! -e hooks2.log ]
	# the changes were kept for the next cycle
	run "$VHDRECOVER" replicate --json r d.vhdx
	json_true "$output" '.full_scan == false and .chunks_read == 16'
	"$VHDRECOVER" restore r latest --to out.raw
	[ "$(sha_of out.raw)" = "$(disk_sha d.vhdx)" ]

	# a failing --post is only a warning
	run --separate-stderr "$VHDRECOVER" replicate --json r d.vhdx \
		--pre true --post 'exit 4'
	[ "$status" -eq 0 ]
	json_true "$output" '.consistent'
	[[ $stderr == *"warning"*"exit 4"* ]]
}

@test "more than nine cycles in one second: points keeps their order and latest is the newest" {
	local n=0 out last
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 16M --block-size 1M
	head -c 4096 /dev/urandom >s
	# cycles, each after a write that changes the disk, until one second
	# holds 11 points of d (ids d-STAMP, d-STAMP-2, ... d-STAMP-11)
	while ((n < 1000)); do
		n=$((n + 1))
		"$VHDRECOVER" write d.vhdx $((n * 4096)) s
		out=$("$VHDRECOVER" replicate r d.vhdx)
		last=${out#*: point }
		last=${last%%:*}
		[[ $last == *-11 ]] && break
	done
	echo "$out"
	[[ $last == *-11 ]]
	run "$VHDRECOVER" points r
	printf '%s\n' "$output"
	# latest is the eleventh point, which is the disk now
	"$VHDRECOVER" restore r latest --to out.raw
	[ "$(sha_of out.raw)" = "$(disk_sha d.vhdx)" ]
	run "$VHDRECOVER" points --json r
	[ "$(jq -r '.[-1].id' <<<"$output")" = "$last" ]
	[ "$(jq -r '.[-2].id' <<<"$output")" = "${last%-11}-10" ]
	# the eleventh built on the tenth: incremental, no full scan
	[[ $out != *"full scan"* ]]
}

@test "two disks of the same file name in one repository: the second is refused until it gets its own --name" {
	local vm
	"$VHDRECOVER" repo init r
	mkdir vm1 vm2
	for vm in vm1 vm2; do
		"$VHDRECOVER" create $vm/disk.vhdx --size 16M
		head -c $((1 * M)) /dev/urandom >$vm.data
		"$VHDRECOVER" write $vm/disk.vhdx 0 $vm.data
	done
	"$VHDRECOVER" replicate r vm1/disk.vhdx >/dev/null
	# both are disk "disk" by default: vm2 must not build on vm1's point
	run --separate-stderr "$VHDRECOVER" replicate r vm2/disk.vhdx
	assert_one_line_error "^vhdrecover: r: disk name 'disk' belongs to another disk \\(VirtualDiskId [0-9a-f-]{36}\\); give this one --name$"
	[ "$("$VHDRECOVER" points --json r | jq length)" -eq 1 ]
	run "$VHDRECOVER" replicate --json r vm2/disk.vhdx --name vm2
	[ "$status" -eq 0 ]
	json_true "$output" '.disk == "vm2" and .full_scan'
	# cycles alternate with writes; every point is exactly its disk
	head -c $((64 * K)) /dev/urandom >x
	"$VHDRECOVER" write vm1/disk.vhdx $((4 * M)) x
	"$VHDRECOVER" write vm2/disk.vhdx $((6 * M)) x
	"$VHDRECOVER" replicate r vm1/disk.vhdx >/dev/null
	"$VHDRECOVER" replicate r vm2/disk.vhdx --name vm2 >/dev/null
	"$VHDRECOVER" restore r disk:latest --to out1.raw >/dev/null
	[ "$(sha_of out1.raw)" = "$(disk_sha vm1/disk.vhdx)" ]
	"$VHDRECOVER" restore r vm2:latest --to out2.raw >/dev/null
	[ "$(sha_of out2.raw)" = "$(disk_sha vm2/disk.vhdx)" ]
}

#!/bin/bash
# incremental.sh - replication cycles of a changing disk: vhdrecover
# (replicate, and base add) against restic backup and borg create of the
# same disk as an image file, all measured in the same run.
#
# The disk: SIZE_MIB (8192) MiB of mixed data that zstd compresses about
# 2x (each 64 KiB is 16 KiB of random bytes and 48 KiB of word-like text),
# a third of it zeros (runs of 1-64 MiB, written out, not holes); no
# 64 KiB of data repeats, so no tool can deduplicate it. vhdrecover protects it as a
# dynamic VHDX; restic and borg back up the raw image, the same bytes.
# Three rounds, each tool once per round:
#   first      the first cycle / first backup; also `base add` of the image
#              into a repository of its own (the other way to start)
#   scattered  after 1% of the disk changed as scattered 4 KiB writes
#   clustered  after another 1% changed as 1 MiB writes at random offsets
# The changes are one qemu-io script per round, run against the raw image
# and, through `vhdrecover serve` (so the change bitmap marks them),
# against the VHDX: both get identical data. Applying them is not timed.
#
# Per step: seconds, bytes read (rchar of the tool's process tree: all it
# read, from the page cache or the disk, its own temporary files too),
# repository growth (du -sb).
# Before each timed run the tool's input is read into the page cache and
# the machine settles (sync, BENCH_SETTLE seconds, see lib.sh). Each round
# changes the state, so runs cannot alternate as in bench_compare: the
# order rotates from round to round instead, and is printed. RUNS (1)
# repeats the whole sequence in fresh directories; the medians count.
# Then the ratios against restic and borg and the issue's goals (GOAL MET /
# GOAL MISSED; a missed goal is not a failure), and the last point is
# restored and compared with the changed image (exit 1 on a mismatch).
#
# restic uses its defaults (repository v2, compression auto); borg gets
# -C zstd,2, vhdrecover's codec and default level, and no encryption.
#
# usage: bench/incremental.sh   (VHDRECOVER=path/to/vhdrecover, RUNS=N,
#        SIZE_MIB=N, BENCH_SETTLE=S to override)
set -euo pipefail

RUNS=${RUNS:-1}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MIB=${SIZE_MIB:-8192}
for tool in restic borg qemu-io nbdinfo jq python3; do
	command -v "$tool" >/dev/null || {
		echo "incremental.sh: $tool: not installed (tests/bootstrap.sh)" >&2
		exit 1
	}
done
bench_init incremental.sh
RESULTS=$BENCH_WORK/results.tsv
: >"$RESULTS"
export RESTIC_PASSWORD=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

die()
{
	echo "incremental.sh: $*" >&2
	exit 1
}

# gen.py image FILE MIB | changes scattered|clustered MIB: the disk image,
# or a round's qemu-io script (script.io) and the data it writes (p/).
# Seeded: every run makes the same bytes.
cat >"$BENCH_WORK/gen.py" <<'PY'
import os, random, sys

M = 1 << 20
rng = random.Random(20261126)
vocab = ["".join(rng.choice("etaoinshrdlucmfwypvbgkqjxz")
                 for _ in range(rng.randint(2, 10))) for _ in range(2000)]
# word frequencies as in text (Zipf): zstd -3 makes about 1.9x of each
# 64 KiB unit, 2.1x of 1 MiB
POOL = " ".join(rng.choices(vocab, weights=[1 / r for r in range(1, 2001)],
                            k=1500000)).encode()

def mixed(rng, n):
    """n bytes: a quarter random, the rest text from a random place."""
    out = bytearray()
    for _ in range(max(1, n // 65536)):
        unit = min(n, 65536)
        r = unit // 4
        o = rng.randrange(len(POOL) - unit)
        out += rng.randbytes(r) + POOL[o:o + unit - r]
    return bytes(out)

def image(path, mib):
    rng = random.Random(1)
    zero, done = 0, 0
    with open(path, "wb") as f:
        while done < mib:
            run = min(rng.randint(1, 64), mib - done)
            is_zero = rng.random() < 1 / 3
            for _ in range(run):
                f.write(bytes(M) if is_zero else mixed(rng, M))
            zero += run if is_zero else 0
            done += run
    print("%d MiB, %d MiB of them zeros (%.1f%%)" % (mib, zero, 100 * zero / mib))

def changes(kind, mib):
    rng = random.Random(2 if kind == "scattered" else 3)
    size = 4096 if kind == "scattered" else M
    n = round(mib * M / 100 / size)
    os.makedirs("p", exist_ok=True)
    with open("script.io", "w") as s:
        for i, slot in enumerate(rng.sample(range(mib * M // size), n)):
            with open("p/%d" % i, "wb") as f:
                f.write(mixed(rng, size))
            s.write("write -q -s p/%d %d %d\n" % (i, slot * size, size))
        s.write("flush\n")
    print("%d writes of %d bytes" % (n, size))

if sys.argv[1] == "image":
    image(sys.argv[2], int(sys.argv[3]))
else:
    changes(sys.argv[2], int(sys.argv[3]))
PY

gen()
{
	python3 "$BENCH_WORK/gen.py" "$@"
}

# qemu_io [OPTIONS] TARGET: run script.io; qemu-io exits 0 even when a
# command fails, so anything it prints but its prompt is a failure.
qemu_io()
{
	local out

	out=$(qemu-io "$@" <script.io | sed 's/qemu-io> //g') || return
	[[ -z ${out//[[:space:]]/} ]] || die "qemu-io ${*: -1}: $out"
}

uri()
{
	echo "nbd+unix:///?socket=$PWD/nbd.sock"
}

# apply_changes KIND: the same writes into image.raw and, through serve,
# into disk.vhdx; then count the chunks its change bitmap tracks.
apply_changes()
{
	local server i t

	rm -rf p script.io nbd.sock
	gen changes "$1" "$SIZE_MIB"
	t=$(seconds qemu_io -f raw -t writeback image.raw) || die "qemu-io failed"
	echo "  applied to image.raw in $t s"
	"$VHDRECOVER" serve disk.vhdx --socket "$PWD/nbd.sock" 2>serve.log 3>&- &
	server=$!
	for i in $(seq 100); do
		nbdinfo --size "$(uri)" >/dev/null 2>&1 && break
		sleep 0.1
	done
	t=$(seconds qemu_io -f raw "$(uri)") || {
		kill -TERM "$server"
		die "qemu-io over NBD failed"
	}
	kill -TERM "$server"
	wait "$server" || die "serve: $(cat serve.log)"
	echo "  applied to disk.vhdx (serve + qemu-io) in $t s"
	TRACKED=$("$VHDRECOVER" changes --json disk.vhdx |
		jq '[.extents[] | .length / $g | ceil] | add // 0' \
			--argjson g 65536) || die "changes failed"
	echo "  change bitmap: $TRACKED chunks of 64 KiB"
}

# warm TOOL: read the tool's input into the page cache.
warm()
{
	case $1 in
	vhdrecover) cat disk.vhdx >/dev/null ;;
	*) cat image.raw >/dev/null ;;
	esac
}

# step_cmd STEP TOOL: print the command of TOOL's run in STEP, one word a
# line; REPO is the repository it grows.
step_cmd()
{
	case $2 in
	vhdrecover) printf '%s\n' "$VHDRECOVER" replicate repo-vr disk.vhdx \
		--json --no-progress ;;
	base-add) printf '%s\n' "$VHDRECOVER" base add --json --no-progress \
		repo-base image.raw --name golden ;;
	restic) printf '%s\n' restic -r repo-restic backup image.raw ;;
	borg) printf '%s\n' borg create -C zstd,2 "repo-borg::$1" image.raw ;;
	esac
}

repo_of()
{
	case $1 in
	vhdrecover) echo repo-vr ;;
	base-add) echo repo-base ;;
	*) echo "repo-$1" ;;
	esac
}

# run_step RUN STEP TOOL: settle, time one run; append run, step, tool,
# seconds, bytes read, growth, vhdrecover's chunks_read and the tracked
# chunk count to results.tsv.
run_step()
{
	local run=$1 step=$2 tool=$3 repo before after t cmd chunks=- tracked=-

	repo=$(repo_of "$tool")
	mapfile -t cmd < <(step_cmd "$step" "$tool")
	warm "$tool"
	sync
	sleep "${BENCH_SETTLE:-5}"
	before=$(du -sb "$repo" | cut -f1)
	# rchar of the wrapping shell includes its reaped child's reads
	# shellcheck disable=SC2016 # expanded by that shell
	t=$(seconds bash -c '"$@" >out.txt 2>&1 || exit
		awk "/^rchar/ {print \$2}" /proc/$$/io >rchar.txt' _ "${cmd[@]}") || {
		cat out.txt >&2
		die "$step: $tool failed"
	}
	after=$(du -sb "$repo" | cut -f1)
	if [[ $tool == vhdrecover ]]; then
		chunks=$(jq .chunks_read out.txt)
		[[ $step == first ]] || tracked=$TRACKED
	fi
	cp out.txt "$BENCH_WORK/out-$run-$step-$tool.txt"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$step" "$tool" "$t" \
		"$(cat rchar.txt)" $((after - before)) "$chunks" "$tracked" \
		>>"$RESULTS"
	printf '  %-10s %-10s %8s s\n' "$step" "$tool" "$t"
}

# round RUN STEP N TOOL...: each tool once, the order rotated by N.
round()
{
	local run=$1 step=$2 n=$3 tools order=() i
	shift 3
	tools=("$@")
	for ((i = 0; i < ${#tools[@]}; i++)); do
		order+=("${tools[(i + n) % ${#tools[@]}]}")
	done
	echo "round $step, order: ${order[*]}"
	for i in "${order[@]}"; do
		run_step "$run" "$step" "$i"
	done
}

one_run()
{
	local run=$1 dir=$BENCH_WORK/run$1 t

	mkdir "$dir"
	cd "$dir"
	export XDG_CACHE_HOME=$dir/cache BORG_BASE_DIR=$dir/borg-home
	echo "run $run: making image.raw: $(gen image image.raw "$SIZE_MIB")"
	t=$(seconds "$VHDRECOVER" convert --no-progress -O vhdx image.raw \
		disk.vhdx) || die "convert failed"
	echo "  disk.vhdx by convert in $t s"
	"$VHDRECOVER" repo init repo-vr >/dev/null
	"$VHDRECOVER" repo init repo-base >/dev/null
	restic init -r repo-restic >/dev/null 2>&1 || die "restic init failed"
	borg init -e none repo-borg || die "borg init failed"

	round "$run" first $((run - 1)) vhdrecover base-add restic borg
	apply_changes scattered
	round "$run" scattered "$run" vhdrecover restic borg
	apply_changes clustered
	round "$run" clustered $((run + 1)) vhdrecover restic borg

	for t in vr restic borg; do
		echo "$t $(du -sb "repo-$t" | cut -f1)" >>"$BENCH_WORK/total-$t"
	done
	"$VHDRECOVER" restore repo-vr latest --to restored.raw \
		--no-progress >/dev/null || die "restore failed"
	cmp restored.raw image.raw || die "run $run: restored point differs"
	echo "  last point restored: identical to the changed image.raw: OK"
	cd "$BENCH_WORK"
	rm -rf "$dir"
}

# col STEP TOOL COLUMN: the median of a results.tsv column over the runs.
col()
{
	# shellcheck disable=SC2046 # one value a word
	median $(awk -F'\t' -v s="$1" -v t="$2" -v c="$3" \
		'$2 == s && $3 == t { print $c }' "$RESULTS")
}

mib()
{
	awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

# goal TEXT CONDITION (awk expression): one GOAL MET / GOAL MISSED line.
goal()
{
	if awk "BEGIN { exit !($2) }"; then
		echo "GOAL MET:    $1"
	else
		echo "GOAL MISSED: $1"
	fi
}

report()
{
	local step tool vr r b chunks tracked

	echo
	echo "medians of $RUNS run(s); bytes read: rchar of the tool's processes"
	echo "(every read they make: restic's also counts its temporary packs)"
	printf '%-10s %-10s %9s %12s %12s\n' step tool seconds "read MiB" \
		"growth MiB"
	for step in first scattered clustered; do
		for tool in vhdrecover base-add restic borg; do
			[[ $tool != base-add || $step == first ]] || continue
			printf '%-10s %-10s %9s %12s %12s\n' "$step" "$tool" \
				"$(col "$step" "$tool" 4)" \
				"$(mib "$(col "$step" "$tool" 5)")" \
				"$(mib "$(col "$step" "$tool" 6)")"
		done
	done
	echo
	for step in first scattered clustered; do
		vr=$(col "$step" vhdrecover 4)
		r=$(col "$step" restic 4)
		b=$(col "$step" borg 4)
		echo "$step: restic / vhdrecover $(ratio "$r" "$vr")," \
			"borg / vhdrecover $(ratio "$b" "$vr")" \
			"(time ratios; > 1: vhdrecover faster)"
	done
	vr=$(col first base-add 4)
	echo "first: restic / base add $(ratio "$(col first restic 4)" "$vr")," \
		"borg / base add $(ratio "$(col first borg 4)" "$vr")"
	for step in scattered clustered; do
		chunks=$(awk -F'\t' -v s=$step '$2 == s && $3 == "vhdrecover" {
			print $7 " of " $8 }' "$RESULTS" | sort -u | paste -sd,)
		echo "$step: vhdrecover chunks read / tracked by the bitmap: $chunks"
	done
	echo "total repository size: vhdrecover $(mib "$(total vr)") MiB," \
		"restic $(mib "$(total restic)") MiB, borg $(mib "$(total borg)") MiB" \
		"(base-add's repository apart: not counted)"
	echo
	r=$(col first restic 4)
	goal "first cycle >= 1.5x restic's first-run throughput" \
		"$r / $(col first vhdrecover 4) >= 1.5"
	goal "base add >= 1.5x restic's first-run throughput" \
		"$r / $(col first base-add 4) >= 1.5"
	goal "scattered-change cycle >= 5x faster than restic" \
		"$(col scattered restic 4) / $(col scattered vhdrecover 4) >= 5"
	goal "clustered-change cycle >= 20x faster than restic" \
		"$(col clustered restic 4) / $(col clustered vhdrecover 4) >= 20"
	for step in scattered clustered; do
		goal "$step cycle reads only the tracked chunks" \
			"$(awk -F'\t' -v s=$step '$2 == s && $3 == "vhdrecover" &&
				$7 > $8 { bad = 1 } END { print bad + 0 }' \
				"$RESULTS") == 0"
		goal "$step cycle grows the repository less than restic" \
			"$(col $step vhdrecover 6) < $(col $step restic 6)"
	done
	goal "total repository size no bigger than restic's" \
		"$(total vr) <= $(total restic)"
}

total()
{
	# shellcheck disable=SC2046 # one value a word
	median $(cut -d' ' -f2 "$BENCH_WORK/total-$1")
}

t0=$(date +%s)
for ((run = 1; run <= RUNS; run++)); do
	one_run "$run"
done
report
echo "wall time: $(($(date +%s) - t0)) s"

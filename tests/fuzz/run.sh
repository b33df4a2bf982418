#!/bin/bash
# run.sh - build the VHDX fuzz harness (tests/fuzz/fuzz_vhdx_open.c) in
# build-fuzz/, make seeds, fuzz for a while, and say what happened.
#
# usage: tests/fuzz/run.sh [SECONDS]        (default 600)
#
# Environment:
#   FUZZ_PROCS=N  fuzzing processes (default 2: the build machine has 2 cores)
#   FUZZ_MODE=M   how they run (default jobs):
#                 jobs   -jobs=N -workers=N: N independent fuzzers sharing the
#                        corpus directory. A worker stops at its first crash;
#                        the others go on.
#                 fork   -fork=N -ignore_crashes=1: goes on after crashes, but
#                        libFuzzer 14 hands each job a few inputs chosen with
#                        a skew towards the newest, so the seeds (the dirty
#                        logs, the differencing disks) are soon hardly fuzzed
#                        at all: a 10-minute fork run never reached one log
#                        entry check that a jobs run reaches in a minute.
#                 plain  one process.
#   FUZZ_RESEED=1 rebuild the seeds even if they exist.
#
# Everything it writes goes to build-fuzz/ and tests/fuzz/corpus-work/, both
# ignored by git:
#   corpus-work/seeds/      seeds made here (input only, never written by
#                           libFuzzer)
#   corpus-work/corpus/     what libFuzzer keeps; grows from run to run
#   corpus-work/artifacts/  crash-*, leak-*, timeout-*, oom-*, slow-unit-*
#   corpus-work/fuzz.log    libFuzzer's output of the last run
#   corpus-work/logs/       jobs mode: one fuzz-N.log per job
# Exit status: 0 if the run left no new artifact, 1 if it did, 2 on a setup
# problem.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECS=${1:-600}
PROCS=${FUZZ_PROCS:-2}
MODE=${FUZZ_MODE:-jobs}
BUILD=$ROOT/build-fuzz
WORK=$ROOT/tests/fuzz/corpus-work
SEEDS=$WORK/seeds
CORPUS=$WORK/corpus
ARTIFACTS=$WORK/artifacts
FUZZER=$BUILD/tests/fuzz/fuzz_vhdx_open
DICT=$ROOT/tests/fuzz/vhdx.dict

# Inputs are capped at 6 MiB. Every VHDX keeps its fixed structures early:
# the 1 MiB header section, then (Windows, qemu and mkvhdx.py alike) a 1 MiB
# log, a 1 MiB metadata region and a 1 MiB BAT, all inside the first 4 MiB;
# the 2 MiB after them hold a payload block or two (Windows and mkvhdx.py put
# the first block at 4 MiB, qemu-img at 8 MiB). The corpus decompresses to
# 14-260 MiB; libFuzzer would cut those at -max_len anyway, but then BAT
# entries would point past the end and every open would stop at "ends past
# end of file". So the seeds are cut here and the BAT entries of blocks that
# were cut away are marked NOT_PRESENT (the BAT has no checksum): the seed
# still opens and reads all of what is left. A second, "head" seed of each
# image keeps only the structures (4 MiB).
# Why not more: libFuzzer hashes (SHA-1) and copies every input, and the
# harness copies it into a memfd and reads every block, so the cost of a run
# grows with its length. Measured on the 2-core machine, 40 s each from the
# same seeds: max_len 10 MiB 75 exec/s, cov 532; 6 MiB 93 exec/s, cov 545;
# 4 MiB 142 exec/s, cov 519 (no payload block left in most seeds).
MAX_LEN=$((6 * 1024 * 1024))

die()
{
	echo "run.sh: error: $*" >&2
	exit 2
}

case $MODE in
jobs | fork | plain) ;;
*) die "FUZZ_MODE must be jobs, fork or plain" ;;
esac

# ---- 1. build ----

command -v clang >/dev/null || die "clang is needed (apt-get install clang libclang-rt-14-dev)"
cd "$ROOT"
if [[ ! -x configure ]]; then
	echo "run.sh: autoreconf -fi in $ROOT"
	mkdir -p m4
	autoreconf -fi
fi
mkdir -p "$BUILD"
cd "$BUILD"
if [[ ! -f config.status ]]; then
	# -fsanitize=fuzzer-no-link in CFLAGS reaches vhdx/libvhdx.a too: the
	# library needs coverage counters, or libFuzzer sees only the harness.
	echo "run.sh: configure in $BUILD"
	"$ROOT/configure" CC=clang --enable-fuzz --enable-sanitizers \
		CFLAGS="-O1 -g -fsanitize=fuzzer-no-link" >configure.out ||
		die "configure failed; see $BUILD/config.log"
fi
grep -q 'fuzzer-no-link' config.status ||
	echo "run.sh: warning: $BUILD was configured without CFLAGS=-fsanitize=fuzzer-no-link; the library has no coverage counters" >&2
make -j"$(nproc)" tests/fuzz/fuzz_vhdx_open || die "build failed in $BUILD"

# ---- 2. seeds ----

# usage: prep_image SRC DST CUT HEAD_ONLY
# Decompress SRC if it ends in .gz, .bz2 or .xz (streaming: only the first
# CUT bytes are ever produced), cut it to CUT bytes (HEAD_ONLY=1: to the end
# of its regions and log), repair its BAT (and a dirty log's
# FlushedFileOffset) and write DST. Python's standard library only; the
# layout is [MS-VHDX] 2.2.3 (region table), 2.6 (metadata), 2.5 (BAT), 2.3
# (log).
prep_image()
{
	python3 - "$@" <<'EOF'
import bz2, gzip, lzma, struct, sys

src, dst, cut, head_only = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
MiB = 1 << 20
opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(src.rsplit(".", 1)[1], open)
with opener(src, "rb") as f:
    d = bytearray(f.read(cut))

def le(fmt, off):
    return struct.unpack_from("<" + fmt, d, off)[0]

def save():
    with open(dst, "wb") as out:
        out.write(d)

GUID_BAT = bytes.fromhex("6677c22d23f600429d64115e9bfd4a08")
GUID_META = bytes.fromhex("06a27c8b90479a4bb8fe575f050f886e")
GUID_FP = bytes.fromhex("3767a1ca36fa434db3b633f0aa44e76b")
GUID_SIZE = bytes.fromhex("2442a52f1bcd7648b2115dbed83bf4b8")
GUID_LSS = bytes.fromhex("1dbf41816fa90947ba47f233a8faab5f")

if len(d) < MiB or d[:8] != b"vhdxfile":
    save(); sys.exit(0)
regions, ends = {}, []
for rt in (192 * 1024, 256 * 1024):
    if d[rt:rt + 4] == b"regi":
        for i in range(min(le("I", rt + 8), 2047)):
            e = rt + 16 + 32 * i
            off, ln = le("Q", e + 16), le("I", e + 24)
            regions[bytes(d[e:e + 16])] = (off, ln)
            ends.append(off + ln)
        break
for h in (64 * 1024, 128 * 1024):
    ends.append(le("Q", h + 72) + le("I", h + 68))
if GUID_BAT not in regions or GUID_META not in regions:
    save(); sys.exit(0)
if head_only:
    del d[max(ends):]

# A dirty log whose FlushedFileOffset lies past the cut is rightly refused;
# pull it back to the cut and give the entry its CRC-32C again (2.3.1.1).
def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
CRC_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    CRC_TABLE.append(c)
for h in (64 * 1024, 128 * 1024):
    log_off, log_len = le("Q", h + 72), le("I", h + 68)
    if log_len == 0 or log_off + log_len > len(d):
        continue
    for pos in range(0, log_len, 4096):
        e = log_off + pos
        elen = le("I", e + 8)
        if d[e:e + 4] != b"loge" or le("Q", e + 48) <= len(d) or not 0 < elen <= log_len:
            continue
        struct.pack_into("<Q", d, e + 48, len(d))
        struct.pack_into("<I", d, e + 4, 0)
        ring = d[log_off:log_off + log_len]
        entry = (ring[pos:] + ring[:pos])[:elen]
        struct.pack_into("<I", d, e + 4, crc32c(entry))

bat_off, bat_len = regions[GUID_BAT]
meta_off, _ = regions[GUID_META]
items = {}
for i in range(le("H", meta_off + 10)):
    e = meta_off + 32 + 32 * i
    items[bytes(d[e:e + 16])] = meta_off + le("I", e + 16)
if not all(g in items for g in (GUID_FP, GUID_SIZE, GUID_LSS)):
    save(); sys.exit(0)
bs, flags = le("I", items[GUID_FP]), le("I", items[GUID_FP] + 4)
lss = le("I", items[GUID_LSS])
if bs < MiB or bs & (bs - 1) or lss not in (512, 4096):
    save(); sys.exit(0)
ratio = (1 << 23) * lss // bs
n = min(bat_len, len(d) - bat_off) // 8
state = lambda i: le("Q", bat_off + 8 * i) & 7
clear = lambda i: struct.pack_into("<Q", d, bat_off + 8 * i, 0)
cleared = 0
for i in range(n):
    entry = le("Q", bat_off + 8 * i)
    bitmap = (i + 1) % (ratio + 1) == 0
    size = MiB if bitmap else bs
    if entry & 7 in (6, 7) and (entry >> 20 << 20) + size > len(d):
        clear(i); cleared += 1
for i in range(n):  # partially present needs its chunk's sector bitmap
    bm = i // (ratio + 1) * (ratio + 1) + ratio
    if state(i) == 7 and (i + 1) % (ratio + 1) and (bm >= n or state(bm) != 6):
        clear(i); cleared += 1
save()
print(f"  {dst.rsplit('/', 1)[1]}: {len(d)} bytes, {cleared} BAT entries cleared")
EOF
}

mk()
{
	python3 "$ROOT/tests/tools/mkvhdx.py" "$@"
}

make_seeds()
{
	local f name tmp
	rm -rf "$SEEDS"
	mkdir -p "$SEEDS"
	tmp=$(mktemp -d)

	echo "run.sh: seeds from tests/corpus (cut to $MAX_LEN bytes)"
	while IFS= read -r -d '' f; do
		name=$(basename "$f")
		name=${name%.*}
		prep_image "$f" "$SEEDS/corpus-$name" "$MAX_LEN" 0
		prep_image "$f" "$SEEDS/corpus-head-$name" "$MAX_LEN" 1
	done < <(find "$ROOT/tests/corpus" -type f \
		\( -name '*.vhdx.*' -o -name '*.avhdx.*' \) -print0 | sort -z)

	if command -v qemu-img >/dev/null && command -v qemu-io >/dev/null; then
		echo "run.sh: seeds from qemu-img (QEMU's layout and log)"
		qemu-img create -q -f vhdx -o block_size=1M "$tmp/qemu-dyn.vhdx" 8M
		qemu-io -f vhdx -c 'write -P 0xab 0 64k' -c 'write -P 0x5a 3M 1M' \
			-c 'write -z 1M 1M' "$tmp/qemu-dyn.vhdx" >/dev/null
		qemu-img create -q -f vhdx -o block_size=1M,subformat=fixed \
			"$tmp/qemu-fixed.vhdx" 2M
		# 1 TiB, 256 MiB blocks: the written block lies past the cut
		qemu-img create -q -f vhdx -o block_size=256M \
			"$tmp/qemu-1t-256m.vhdx" 1T
		qemu-io -f vhdx -c 'write -P 0x11 1G 4k' \
			"$tmp/qemu-1t-256m.vhdx" >/dev/null
		qemu-img create -q -f vhdx -o block_size=1M,log_size=2M \
			"$tmp/qemu-log2m.vhdx" 3M
		qemu-io -f vhdx -c 'write -P 0x77 512 1536' \
			"$tmp/qemu-log2m.vhdx" >/dev/null
		for f in "$tmp"/qemu-*.vhdx; do
			prep_image "$f" "$SEEDS/$(basename "$f")" "$MAX_LEN" 0
		done
	else
		echo "run.sh: qemu-img/qemu-io not found; no qemu seeds" >&2
	fi

	echo "run.sh: seeds from tests/tools/mkvhdx.py (differencing, 4K sectors)"
	{
		mk "$tmp/base.vhdx" --size 4M --write 0:64K:1 &&
			mk "$SEEDS/mk-child.vhdx" --parent "$tmp/base.vhdx" \
				--write 4096:8192:2 --zero-block 1 \
				--volume-path '\\?\Volume{0d5ae8e1-0000-0000-0000-100000000000}\vms\base.vhdx' &&
			mk "$tmp/base4k.vhdx" --size 3M --logical-sector 4096 \
				--write 0:8192:3 &&
			mk "$SEEDS/mk-child4k.vhdx" --parent "$tmp/base4k.vhdx" \
				--write 4096:4096:4 --bitmap-every-chunk &&
			mk "$SEEDS/mk-equal-seq.vhdx" --size 2M --equal-sequence \
				--write 0:4096:5 &&
			mk "$SEEDS/mk-states.vhdx" --size 3M --write 0:3M:6 \
				--zero-block 1 --unmap-block 2 &&
			mk "$SEEDS/mk-fixed.vhdx" --size 1M --type fixed &&
			mk "$SEEDS/mk-header1-crc.vhdx" --size 1M \
				--corrupt header1-crc &&
			mk "$SEEDS/mk-region1-crc.vhdx" --size 1M \
				--corrupt region1-crc
	} >/dev/null || echo "run.sh: warning: some mkvhdx.py seeds failed" >&2

	rm -rf "$tmp"
	touch "$SEEDS/.done"
	echo "run.sh: $(find "$SEEDS" -type f ! -name .done | wc -l) seeds," \
		"$(du -sh "$SEEDS" | cut -f1)"
}

if [[ ! -f $SEEDS/.done || ${FUZZ_RESEED:-0} == 1 ]]; then
	make_seeds
fi

# ---- 3. fuzz ----

mkdir -p "$CORPUS" "$ARTIFACTS"
rm -rf "$WORK/logs"
mkdir -p "$WORK/logs"
stamp=$WORK/.run-start
touch "$stamp"

# A corpus carried over from earlier runs is distilled first: -merge=1 keeps
# the smallest set of inputs with the same coverage. Plain and jobs mode hold
# every input in memory, and they are megabytes each.
if [[ -n $(find "$CORPUS" -type f -print -quit) ]]; then
	echo "run.sh: distilling $CORPUS ($(find "$CORPUS" -type f | wc -l) inputs)"
	rm -rf "$CORPUS.new"
	mkdir "$CORPUS.new"
	if (cd "$WORK/logs" && "$FUZZER" -merge=1 -max_len="$MAX_LEN" \
		-timeout=30 -rss_limit_mb=8192 "$CORPUS.new" "$CORPUS" \
		</dev/null) >"$WORK/merge.log" 2>&1; then
		rm -rf "$CORPUS"
		mv "$CORPUS.new" "$CORPUS"
		echo "run.sh: kept $(find "$CORPUS" -type f | wc -l) inputs"
	else
		rm -rf "$CORPUS.new"
		echo "run.sh: warning: merge failed (see $WORK/merge.log); corpus kept as is" >&2
	fi
fi
# -rss_limit_mb: plain and jobs mode keep the whole corpus (inputs up to
# 6 MiB) in memory; a 10-minute jobs run from the seeds peaked at 2.7 GiB per
# worker, a 20-minute one from a distilled corpus of 466 inputs at 2.4 GiB.
# -malloc_limit_mb still reports any single allocation over 2 GiB as a bug.
args=(-max_len="$MAX_LEN" -timeout=30 -rss_limit_mb=8192
	-malloc_limit_mb=2048 -dict="$DICT" -max_total_time="$SECS"
	-print_final_stats=1 -artifact_prefix="$ARTIFACTS/")
case $MODE in
jobs)
	# Each worker reads the other's finds every 30 s; every second (the
	# default) costs a fifth of the time with inputs this large.
	args+=(-jobs="$PROCS" -workers="$PROCS" -reload=30) ;;
fork)
	args+=(-fork="$PROCS" -ignore_crashes=1 -ignore_timeouts=1
		-ignore_ooms=1) ;;
plain)
	args+=(-reload=0) ;;
esac
echo "run.sh: $FUZZER ${args[*]} $CORPUS $SEEDS"
set +e
# stdin from /dev/null: vhdx_check() may try /proc/self/fd/0 as a parent.
# Jobs mode writes one fuzz-N.log per job into the current directory.
(cd "$WORK/logs" && "$FUZZER" "${args[@]}" "$CORPUS" "$SEEDS" </dev/null) \
	>"$WORK/fuzz.log" 2>&1
rc=$?
set -e

# ---- 4. report ----

echo "run.sh: libFuzzer exited with $rc; output in $WORK/fuzz.log and $WORK/logs/"
# plain and jobs mode: "#N DONE cov: C ft: F corp: ..." and final stats;
# fork mode: "#N: cov: C ft: F corp: K exec/s E oom/timeout/crash: a/b/c"
total=0
logs=("$WORK/fuzz.log")
# jobs mode: fuzz.log repeats the job logs; count each job once
[[ $MODE != jobs ]] || logs=("$WORK"/logs/fuzz-*.log)
for log in "${logs[@]}"; do
	[[ -f $log ]] || continue
	last=$(grep -E '^#[0-9]+[[:space:]:]' "$log" | tail -1) || true
	[[ -n $last ]] || continue
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	[[ -n $runs ]] || runs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")
	total=$((total + runs))
	echo "run.sh: $(basename "$log"): $runs runs; last status: $last"
	grep -E '^stat::(average_exec_per_sec|new_units_added|slowest_unit_time_sec|peak_rss_mb)' \
		"$log" | sed 's/^/run.sh:   /' || true
done
echo "run.sh: $total runs in all, $(find "$CORPUS" -type f | wc -l) inputs in $CORPUS"
mapfile -t found < <(find "$ARTIFACTS" -type f -newer "$stamp" | sort)
if [[ ${#found[@]} -eq 0 ]]; then
	echo "run.sh: no crash, leak, timeout or OOM in this run"
	exit 0
fi
echo "run.sh: ${#found[@]} new artifact(s):"
printf '  %s\n' "${found[@]}"
echo "run.sh: reproduce with: $FUZZER FILE   (see tests/fuzz/README.md)"
exit 1

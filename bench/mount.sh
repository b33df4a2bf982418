#!/bin/bash
# mount.sh - browsing a backup through FUSE: `vhdrecover mount` against
# `restic mount` of a restic backup of the same disk image and of the same
# file tree, all measured in the same run.
#
# The disk (made once, cached in the work directory, see below): a
# BENCH_DISK_GIB (2) GiB ext4 file system without a partition table, made
# with mke2fs -d on a plain image file (no loop devices), label benchvol,
# 80-85% used:
#   /tree/  BENCH_FILES (120000) small files (16 B - 8 KiB, log-uniform,
#           random bytes), 100 a directory, 100 directories under each of
#           /tree/dNNN: the tree that is listed
#   /big/   the rest: files of 4 - 64 MiB, half random bytes, half mixed
#           (each 64 KiB: 16 KiB random, 48 KiB word-like text: zstd makes
#           about 2x of it), so neither tool can skip, compress away or
#           deduplicate much of the disk; its free blocks are zeros.
# The image becomes base.vhdx (vhdrecover convert, dynamic), a repository
# holds it as base "gold" and a point of disk "vol" replicated from a
# differencing child of it (the sequence scoped-restore.sh uses). A restic
# repository holds one snapshot of the image file itself (disk.raw) and of
# the source directory tree/ it was made from. The SHA-256 of the image,
# the number of lines `find` prints for tree/ and for the whole source
# directory, and tree/'s listing (paths, file sizes) are kept; the image
# and the source directory are removed (BENCH_KEEP=1 keeps them).
#
# Both tools keep metadata in a local cache, XDG_CACHE_HOME=WORK/cache:
# restic its blobs, vhdrecover the walks of volumes it saves
# (vhdrecover/trees/, mount --tree-cache). The check mount (below) fills
# them, so every timed run is a later mount's, as an administrator's
# second look at a point is. The check mount of vhdrecover starts with no
# saved walk, from a dropped page cache, and its first find of tree/
# (which walks the whole volume, fetching its directories and inodes) is
# timed and printed too.
#
# Each run mounts each tool afresh and measures, in this order:
#   find  `find DIR | wc -l` of the tree, timed from a fresh mount: sync,
#         page cache dropped, BENCH_SETTLE (5) s of quiet, mount, wait
#         until the mount point answers (`ls` of its root; at most
#         BENCH_MOUNT_TIMEOUT (120) s), then the find. DIR is
#           vhdrecover  MNT/points/ID/volumes/0-benchvol/tree
#           restic      MNT/snapshots/latest/WORK/src/tree
#   read  sync, page cache dropped, settle, then `dd bs=1M of=/dev/null`
#         of the whole disk: MNT/points/ID/disk.raw, and restic's
#         MNT/snapshots/latest/WORK/disk.raw; MB/s = 10^6 bytes a second
#   RSS   the mount process's peak resident set (VmHWM of
#         /proc/PID/status, after the find and the read), just before it
#         is unmounted (fusermount3 -u, fusermount -u for restic)
# Both mount commands run in the foreground as this script's children.
# With --cache-size in `vhdrecover mount --help`, BENCH_CACHE (when set)
# is passed to it; restic mount has no such knob. Before anything is
# timed each tool is mounted once to check what it shows: tree/'s paths
# and file sizes, and the whole volume (vhdrecover) with one line more
# than the source directory: ext4's lost+found. Then one untimed warm-up
# run each, then BENCH_RUNS (3) runs, the order alternating from run to
# run.
#
# Printed: each run's numbers, the medians, "ratio read vhdrecover/restic"
# (of MB/s) and "ratio find restic/vhdrecover" (of seconds; both > 1:
# vhdrecover faster), the peak RSS of each mount process (the highest of
# the timed runs) and the issue's goals (GOAL MET / GOAL MISSED, a missed
# goal is not a failure): reads >= 3x restic's MB/s, listing >= 5x
# faster, vhdrecover's peak RSS < 256 MiB. No fast but wrong result wins:
# every find must count what the source's find counted, every read must
# return as many bytes as the image has, and a second, untimed read of the
# same file through the same mount (openssl dgst, served from the page
# cache when the mount let the kernel keep it) must have the image's
# SHA-256; exit 1 otherwise, after the numbers.
#
# usage: bench/mount.sh [WORKDIR]
#   WORKDIR  the cached setup (default /var/tmp/vr-bench-mount); a rerun
#            with the same sizes reuses it, other sizes rebuild it, and the
#            vhdrecover repository is rebuilt if this vhdrecover cannot
#            read it.
#   env: VHDRECOVER=path/to/vhdrecover, BENCH_RUNS=N (3), BENCH_SETTLE=S
#        (5), BENCH_DISK_GIB=N (2), BENCH_FILES=N (120000),
#        BENCH_MOUNT_TIMEOUT=S (120), BENCH_CACHE=SIZE (vhdrecover mount
#        --cache-size, when it has one), BENCH_WARMUP=0 (no untimed
#        warm-up run), BENCH_KEEP=1.
# Needs root (dropping caches; FUSE mounts) and e2fsprogs (mke2fs,
# dumpe2fs), restic, fuse and fuse3 (fusermount, fusermount3, /dev/fuse),
# openssl, jq, python3.
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
# shellcheck disable=SC1091 # lib.sh: what the bench/ scripts share
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ME=mount.sh
DISK_GIB=${BENCH_DISK_GIB:-2}
FILES=${BENCH_FILES:-120000}
SETTLE=${BENCH_SETTLE:-5}
TIMEOUT=${BENCH_MOUNT_TIMEOUT:-120}
FILL_PCT=85
LABEL=benchvol
RSS_GOAL_MIB=256
GEN_VERSION=1

die()
{
	echo "$ME: $*" >&2
	exit 1
}

for tool in mke2fs dumpe2fs restic fusermount fusermount3 mountpoint \
	openssl jq python3; do
	command -v "$tool" >/dev/null ||
		die "$tool: not installed (e2fsprogs, restic, fuse, fuse3, openssl, jq, python3: tests/bootstrap.sh)"
done
[[ -c /dev/fuse ]] || die "/dev/fuse: missing"
((EUID == 0)) || die "must run as root (dropping caches, FUSE mounts)"
[[ -x $VHDRECOVER ]] || die "$VHDRECOVER: not built (run tests/bootstrap.sh)"
[[ $DISK_GIB =~ ^[1-9][0-9]*$ && $FILES =~ ^[1-9][0-9]*$ &&
	$RUNS =~ ^[1-9][0-9]*$ && $TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
	die "BENCH_DISK_GIB, BENCH_FILES, BENCH_RUNS, BENCH_MOUNT_TIMEOUT: whole numbers > 0"

WORK=${1:-/var/tmp/vr-bench-mount}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd -P)
cd "$WORK"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$WORK/repo-restic
export XDG_CACHE_HOME=$WORK/cache

# vhdrecover mount's options: --cache-size only where this build has it.
VR_OPTS=()
if [[ -n ${BENCH_CACHE:-} ]]; then
	if [[ $("$VHDRECOVER" mount --help 2>&1 || true) == *--cache-size* ]]; then
		VR_OPTS=(--cache-size "$BENCH_CACHE")
	else
		echo "$ME: BENCH_CACHE ignored: this vhdrecover mount has no --cache-size" >&2
	fi
fi

declare -A MNT=([vhdrecover]=$WORK/mnt-vhdrecover [restic]=$WORK/mnt-restic)
declare -A PID=()

# The mounts this script makes: unmounted on exit, whatever happens.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup()
{
	local t
	for t in vhdrecover restic; do
		if mountpoint -q "${MNT[$t]}"; then
			fusermount3 -u "${MNT[$t]}" 2>/dev/null ||
				umount -l "${MNT[$t]}" 2>/dev/null || true
		fi
		if [[ -n ${PID[$t]:-} ]] && kill -0 "${PID[$t]}" 2>/dev/null; then
			sleep 1
			kill "${PID[$t]}" 2>/dev/null || true
		fi
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# ---------------------------------------------------------------- setup

# gen.py ROOT DISK_BYTES FILES FILL_PCT: make ROOT/tree and ROOT/big.
write_helpers()
{
	cat >gen.py <<'PY'
import math, os, random, sys

root, disk, nfiles, fill = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261126)
M, B, PER_DIR = 1 << 20, 4096, 100
vocab = ["".join(rng.choice("etaoinshrdlucmfwypvbgkqjxz")
                 for _ in range(rng.randint(2, 10))) for _ in range(2000)]
POOL = " ".join(rng.choices(vocab, weights=[1 / r for r in range(1, 2001)],
                            k=1500000)).encode()

def blocks(n):
    return -(-n // B) * B

def mixed(n):
    """n bytes, each 64 KiB a quarter random and the rest text."""
    out = bytearray()
    while len(out) < n:
        unit = min(n - len(out), 65536)
        r = unit // 4
        o = rng.randrange(len(POOL) - unit)
        out += rng.randbytes(r) + POOL[o:o + unit - r]
    return bytes(out)

# the tree: PER_DIR files a directory, PER_DIR directories a level
used, ndirs, d = 0, 1, None
for i in range(nfiles):
    if i % PER_DIR == 0:
        leaf = i // PER_DIR
        d = os.path.join(root, "tree", "d%03d" % (leaf // PER_DIR),
                         "d%02d" % (leaf % PER_DIR))
        ndirs += 1 + (leaf % PER_DIR == 0)
        os.makedirs(d)
    size = int(math.exp(rng.uniform(math.log(16), math.log(8192))))
    with open(os.path.join(d, "f%06d.txt" % i), "wb") as f:
        f.write(rng.randbytes(size))
    used += blocks(size)
tree = used + ndirs * B
# what else ext4 takes: the inode tables, the journal (at most 64 MiB
# here), bitmaps and group descriptors (a few MiB)
meta = (nfiles + ndirs + 1024) * 256 + 64 * M + 8 * M
left = disk * fill // 100 - tree - meta
if left < 32 * M:
    sys.exit("gen.py: %d files leave no room for the rest of the data "
             "(%.0f MiB short): raise BENCH_DISK_GIB"
             % (nfiles, (32 * M - left) / M))
os.makedirs(os.path.join(root, "big"))
n, big = 0, 0
while big < left:
    size = min(left - big, int(math.exp(rng.uniform(math.log(4 * M),
                                                    math.log(64 * M)))))
    kind = rng.choice(["random", "mixed"])
    with open(os.path.join(root, "big", "%s%03d.dat" % (kind, n)), "wb") as f:
        k = size
        while k:
            c = min(k, M)
            f.write(rng.randbytes(c) if kind == "random" else mixed(c))
            k -= c
    n += 1
    big += size
print("tree/: %d files in %d directories, %.0f MiB allocated; big/: %d files, "
      "%.0f MiB" % (nfiles, ndirs, tree / M, n, big / M))
PY
}

# tree_listing DIR: "PATH/" per directory, "PATH<TAB>SIZE" per file,
# sorted: what a mounted tree must show.
tree_listing()
{
	find "$1" -mindepth 1 \( -type d -printf '%P/\n' \) -o \
		\( -type f -printf '%P\t%s\n' \) | LC_ALL=C sort
}

# setup: the image, restic's backup, base.vhdx; stamp setup.done.
setup()
{
	local t0 t inodes used

	t0=$(date +%s)
	echo "setup in $WORK: ${DISK_GIB} GiB ext4 disk, ${FILES} files in" \
		"tree/ (once; later runs reuse it)"
	rm -rf src repo-restic cache repo-vr base.vhdx child.vhdx disk.raw \
		./*.done ./*.count disk.sha tree.lst
	write_helpers
	t=$(seconds python3 gen.py src $((DISK_GIB << 30)) "$FILES" \
		"$FILL_PCT" 2>gen.out) || {
		cat gen.out >&2
		die "making the source directory failed"
	}
	echo "  source directory in $t s: $(cat gen.out)"
	find src | wc -l >all.count
	find src/tree | wc -l >tree.count
	tree_listing src/tree >tree.lst
	inodes=$(($(cat all.count) + 1024))
	t=$(seconds mke2fs -q -t ext4 -L "$LABEL" -m 0 -N "$inodes" -d src \
		-F disk.raw "${DISK_GIB}G" 2>mke2fs.log) || {
		cat mke2fs.log >&2
		die "mke2fs -d failed"
	}
	used=$(dumpe2fs -h disk.raw 2>/dev/null | awk -F: '
		/^Block count/ { n = $2 } /^Free blocks/ { f = $2 }
		END { printf "%.0f", 100 * (n - f) / n }')
	echo "  disk.raw by mke2fs -d in $t s: ${used}% used"
	openssl dgst -sha256 -r disk.raw | cut -d' ' -f1 >disk.sha
	restic init >restic-init.log 2>&1 || {
		cat restic-init.log >&2
		die "restic init failed"
	}
	t=$(seconds restic backup --quiet "$WORK/disk.raw" "$WORK/src/tree") ||
		die "restic backup failed"
	echo "  restic backup of disk.raw and tree/ in $t s"
	t=$(seconds "$VHDRECOVER" convert --no-progress -O vhdx disk.raw \
		base.vhdx) || die "convert failed"
	echo "  base.vhdx by vhdrecover convert in $t s"
	if [[ ${BENCH_KEEP:-0} != 1 ]]; then
		rm -rf src disk.raw
	fi
	touch setup.done
	echo "  setup took $(($(date +%s) - t0)) s"
}

# repo_setup: the vhdrecover repository: base gold, one point of vol.
repo_setup()
{
	bench_vr_repo vol
	touch repo.done
}

params="disk_gib=$DISK_GIB files=$FILES fill=$FILL_PCT gen=$GEN_VERSION work=$WORK"
if [[ -e params && $(cat params) != "$params" ]]; then
	echo "$WORK holds a setup made with other parameters ($(cat params)): rebuilding it"
	rm -f setup.done
fi
echo "$params" >params
[[ -e setup.done ]] || setup
if [[ ! -e repo.done ]] || ! "$VHDRECOVER" points repo-vr >/dev/null 2>&1; then
	repo_setup
fi
: >vhdrecover-mount.log
: >restic-mount.log
POINT=$("$VHDRECOVER" points --json repo-vr | jq -r '.[-1].id')
DISK_BYTES=$((DISK_GIB << 30))
DISK_SHA=$(cat disk.sha)
TREE_COUNT=$(cat tree.count)
ALL_COUNT=$(cat all.count)

# ---------------------------------------------------------------- mounts

# disk_of TOOL, tree_of TOOL: the image and the tree in TOOL's mount.
disk_of()
{
	case $1 in
	vhdrecover) echo "${MNT[$1]}/points/$POINT/disk.raw" ;;
	restic) echo "${MNT[$1]}/snapshots/latest$WORK/disk.raw" ;;
	esac
}

tree_of()
{
	case $1 in
	vhdrecover) echo "${MNT[$1]}/points/$POINT/volumes/0-$LABEL/tree" ;;
	restic) echo "${MNT[$1]}/snapshots/latest$WORK/src/tree" ;;
	esac
}

# mount_tool TOOL: mount in the foreground as this shell's child (PID
# gets its pid), wait until the mount point's root can be listed; MOUNTED
# gets the seconds that took.
mount_tool()
{
	local m=${MNT[$1]} log=$WORK/$1-mount.log t0 t1 deadline

	mkdir -p "$m"
	! mountpoint -q "$m" || die "$m: still mounted"
	t0=$(date +%s.%N)
	case $1 in
	vhdrecover) "$VHDRECOVER" mount repo-vr "$m" --foreground \
		"${VR_OPTS[@]}" </dev/null >>"$log" 2>&1 & ;;
	restic) restic mount "$m" </dev/null >>"$log" 2>&1 & ;;
	esac
	PID[$1]=$!
	deadline=$((SECONDS + TIMEOUT))
	until mountpoint -q "$m" && ls "$m" >/dev/null 2>&1; do
		kill -0 "${PID[$1]}" 2>/dev/null ||
			die "$1 mount exited before $m answered: $(tail -3 "$log")"
		((SECONDS < deadline)) ||
			die "$1 mount: $m did not answer within $TIMEOUT s (BENCH_MOUNT_TIMEOUT): $(tail -3 "$log")"
		sleep 0.02
	done
	t1=$(date +%s.%N)
	MOUNTED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

# umount_tool TOOL: unmount and wait (at most TIMEOUT s) for the process
# to end; a non-zero exit status is reported, not fatal.
umount_tool()
{
	local m=${MNT[$1]} pid=${PID[$1]} deadline rc=0

	case $1 in
	vhdrecover) fusermount3 -u "$m" ;;
	restic) fusermount -u "$m" ;;
	esac || die "$1: unmounting $m failed"
	deadline=$((SECONDS + TIMEOUT))
	while kill -0 "$pid" 2>/dev/null; do
		((SECONDS < deadline)) ||
			die "$1 mount (pid $pid) still running $TIMEOUT s after unmounting"
		sleep 0.05
	done
	wait "$pid" || rc=$?
	PID[$1]=
	((rc == 0)) || echo "$ME: $1 mount exited with status $rc" \
		"($(tail -1 "$WORK/$1-mount.log"))" >&2
}

# peak_mib TOOL: VmHWM of the mount process, in MiB.
peak_mib()
{
	awk '/^VmHWM:/ { printf "%.1f\n", $2 / 1024 }' "/proc/${PID[$1]}/status"
}

DROPPED=no
reset()
{
	sync
	if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
		DROPPED=yes
	fi
	sleep "$SETTLE"
}

BAD=0
fail()
{
	echo "CHECK FAILED: $*"
	BAD=1
}

# check_tool TOOL: mount once, untimed, and compare what it shows with
# the source: tree/'s listing and, for vhdrecover, the volume's size in
# lines of find (the source directory's and lost+found).
check_tool()
{
	local vols n t0 t1

	if [[ $1 == vhdrecover ]]; then
		# no saved walk: this mount walks the volume (and saves it)
		rm -rf "$XDG_CACHE_HOME/vhdrecover"
		reset
	fi
	mount_tool "$1"
	if [[ $1 == vhdrecover ]]; then
		t0=$(date +%s.%N)
		vols=$(ls "${MNT[$1]}/points/$POINT/volumes")
		[[ $vols == "0-$LABEL" ]] ||
			fail "vhdrecover: volumes/ of $POINT holds '$vols', not 0-$LABEL"
		n=$(find "${MNT[$1]}/points/$POINT/volumes/0-$LABEL/tree" | wc -l)
		t1=$(date +%s.%N)
		FIRST_FIND=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
		((n == TREE_COUNT)) ||
			fail "vhdrecover: first find of tree/ printed $n lines, the source's $TREE_COUNT"
		n=$(find "${MNT[$1]}/points/$POINT/volumes/0-$LABEL" | wc -l)
		((n == ALL_COUNT + 1)) ||
			fail "vhdrecover: find of the volume: $n lines, not $((ALL_COUNT + 1)) (the source's $ALL_COUNT and lost+found)"
	fi
	if tree_listing "$(tree_of "$1")" | cmp -s - tree.lst; then
		echo "check $1: tree/'s paths and file sizes as in the source: OK"
	else
		fail "$1: tree/ DIFFERS from the source's (paths, file sizes):"
		diff <(tree_listing "$(tree_of "$1")") tree.lst | head -5
	fi
	umount_tool "$1"
}

# run_tool TOOL: one run; sets R_MOUNT, R_FIND, R_READ (seconds) and R_RSS
# (MiB) and checks the count, the bytes and their SHA-256.
run_tool()
{
	local t0 t1 n bytes sha

	reset
	mount_tool "$1"
	R_MOUNT=$MOUNTED
	t0=$(date +%s.%N)
	n=$(find "$(tree_of "$1")" | wc -l) || die "$1: find failed"
	t1=$(date +%s.%N)
	R_FIND=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	((n == TREE_COUNT)) ||
		fail "$1: find of tree/ printed $n lines, the source's $TREE_COUNT"
	reset
	t0=$(date +%s.%N)
	dd if="$(disk_of "$1")" of=/dev/null bs=1M 2>"$WORK/dd.err" ||
		die "$1: reading $(disk_of "$1") failed: $(tail -2 "$WORK/dd.err")"
	t1=$(date +%s.%N)
	R_READ=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	bytes=$(awk '/bytes/ { b = $1 } END { print b }' "$WORK/dd.err")
	[[ $bytes == "$DISK_BYTES" ]] ||
		fail "$1: read $bytes bytes of disk.raw, the image has $DISK_BYTES"
	sha=$(openssl dgst -sha256 -r "$(disk_of "$1")" | cut -d' ' -f1) ||
		die "$1: second read of disk.raw failed"
	[[ $sha == "$DISK_SHA" ]] ||
		fail "$1: disk.raw's SHA-256 is $sha, the image's $DISK_SHA"
	R_RSS=$(peak_mib "$1")
	umount_tool "$1"
}

mbs()
{
	awk -v t="$1" -v b="$DISK_BYTES" 'BEGIN { printf "%.1f", b / t / 1e6 }'
}

# ---------------------------------------------------------------- timed

echo "point $POINT; vhdrecover mount ${VR_OPTS[*]:-(no options)};" \
	"$(restic version | cut -d' ' -f1-2) mount"
check_tool vhdrecover
check_tool restic
if [[ ${BENCH_WARMUP:-1} != 0 ]]; then
	for tool in vhdrecover restic; do
		run_tool "$tool"
	done
fi
declare -A tmount=() tfind=() tread=() rss=()
for ((i = 1; i <= RUNS; i++)); do
	order="vhdrecover restic"
	((i % 2)) || order="restic vhdrecover"
	for tool in $order; do
		run_tool "$tool"
		tmount[$tool]+=" $R_MOUNT" tfind[$tool]+=" $R_FIND"
		tread[$tool]+=" $R_READ" rss[$tool]+=" $R_RSS"
		echo "run $i: $tool mounted in $R_MOUNT s, find $R_FIND s," \
			"read $R_READ s ($(mbs "$R_READ") MB/s), peak RSS $R_RSS MiB"
	done
done
echo "page cache dropped before each find and read: $DROPPED; settle ${SETTLE} s"

med()
{
	local -n a=$1
	# shellcheck disable=SC2086 # one number a word
	median ${a[$2]}
}

peak()
{
	# shellcheck disable=SC2086 # one number a word
	printf '%s\n' ${rss[$1]} | sort -g | tail -1
}

echo
echo "disk.raw $DISK_BYTES bytes ($DISK_GIB GiB ext4, base.vhdx" \
	"$(du -m base.vhdx | cut -f1) MiB allocated, repo-vr" \
	"$(du -sm repo-vr | cut -f1) MiB, repo-restic" \
	"$(du -sm repo-restic | cut -f1) MiB); tree/: $TREE_COUNT lines of find"
for tool in vhdrecover restic; do
	printf '%-10s median of %d: read %8.1f MB/s (%7.3f s), find %7.3f s, mount ready %6.3f s, peak RSS %7.1f MiB\n' \
		"$tool" "$RUNS" "$(mbs "$(med tread "$tool")")" \
		"$(med tread "$tool")" "$(med tfind "$tool")" \
		"$(med tmount "$tool")" "$(peak "$tool")"
done
read_ratio=$(awk -v v="$(med tread vhdrecover)" -v r="$(med tread restic)" \
	'BEGIN { printf "%.2f", r / v }')
find_ratio=$(awk -v v="$(med tfind vhdrecover)" -v r="$(med tfind restic)" \
	'BEGIN { printf "%.2f", r / v }')
echo "ratio read vhdrecover/restic $read_ratio (MB/s; > 1: vhdrecover faster)"
echo "ratio find restic/vhdrecover $find_ratio (seconds; > 1: vhdrecover faster)"
echo "vhdrecover's first find of tree/ on a fresh mount without a saved walk" \
	"(the walk fetches the volume's directories and inodes): $FIRST_FIND s;" \
	"ratio restic/that $(awk -v v="$FIRST_FIND" -v r="$(med tfind restic)" \
		'BEGIN { printf "%.2f", r / v }')"

# goal MET|MISSED TEXT
goal()
{
	if (($1)) && ((BAD == 0)); then
		echo "GOAL MET:    $2"
	else
		echo "GOAL MISSED: $2"
	fi
}

goal "$(awk -v x="$read_ratio" 'BEGIN { print (x >= 3) }')" \
	"vhdrecover reads disk.raw >= 3x restic's MB/s ($read_ratio x)"
goal "$(awk -v x="$find_ratio" 'BEGIN { print (x >= 5) }')" \
	"vhdrecover lists the tree >= 5x faster than restic ($find_ratio x)"
goal "$(awk -v x="$(peak vhdrecover)" -v g=$RSS_GOAL_MIB 'BEGIN { print (x < g) }')" \
	"vhdrecover mount's peak RSS < $RSS_GOAL_MIB MiB ($(peak vhdrecover) MiB)"
if ((BAD)); then
	echo "some results were WRONG (see CHECK FAILED above): no goal counts"
else
	echo "checks: every find counted $TREE_COUNT lines, every read returned" \
		"the image's $DISK_BYTES bytes with its SHA-256: OK"
fi
exit $BAD

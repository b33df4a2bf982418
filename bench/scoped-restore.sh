#!/bin/bash
# scoped-restore.sh - one application's files out of a recovery point of a
# Windows-style disk: `vhdrecover restore --policy P --app A` against the
# manual way a user does it today and against restic's file-level restore
# of the same files, all measured in the same run.
#
# The disk (made once, cached in the work directory, see below): a sparse
# BENCH_DISK_GIB (8) GiB raw image with a GPT (sfdisk) and one NTFS
# partition over all of it (mkntfs -Q on a separate image file, copied in
# at the partition's offset: no loop devices needed), filled through an
# ntfs-3g mount with random data (no tool can compress or deduplicate it),
# the files written in a seeded random order so the application's are
# scattered over the volume among the others:
#   /Apps/ShopDB/    the application: BENCH_APP_PCT (5) % of the disk, about
#                    half in four large database and backup files, half in
#                    about 3000 small files (200 B - 512 KiB, log-uniform;
#                    the smallest live inside the MFT) in some 200
#                    directories, names with spaces and one not ASCII
#   everything else  BENCH_OTHER_PCT (20) % of the disk: an OS-like tree of
#                    about 5000 files, a pagefile, videos, another
#                    application's database, and /Apps/ShopDB-old, which a
#                    sloppy "/Apps/ShopDB*" match would wrongly take.
# That makes about 2 GiB of real data at the default size. The image
# becomes base.vhdx (vhdrecover convert, dynamic) and a repository holds
# it as base "gold" with the point "shop:latest" replicated from a
# differencing child of it; a restic repository holds a file-level backup
# of the whole mounted volume. Then disk.raw and the partition image are
# removed (BENCH_KEEP=1 keeps them).
#
# Timed, each RUNS (BENCH_RUNS, 3) times after one untimed warm-up, the
# order rotating from run to run, each run into a fresh output directory:
#   vhdrecover  vhdrecover restore repo shop:latest --policy policy.yaml
#               --app shopdb --to out-vhdrecover
#   manual      what a user does with the disk image today: qemu-img convert
#               the VHDX to raw, mount the NTFS partition with ntfs-3g -o ro,
#               cp -a /Apps/ShopDB, unmount. Without loop devices ntfs-3g
#               can mount only a file that starts with the file system, and
#               it has no offset option (nor does vhdimount's raw view help:
#               it is the whole disk, GPT first). So qemu-img converts the
#               partition alone, in its one pass over the VHDX, through
#               --image-opts driver=raw,offset=O,size=S over the vhdx
#               driver: the same reads and writes as converting the whole
#               disk minus the GPT's 1 MiB, and cheaper than converting the
#               whole disk and then cutting the partition out with dd
#               (which a loop device with an offset would have avoided).
#               The time of the qemu-img step alone is printed too.
#   restic      restic restore latest --target out-restic --include
#               SRC/Apps/ShopDB (SRC: where the volume was mounted at backup)
# No tool fsyncs its output: each is timed until its command returns.
# Before each timed run: the previous outputs and the manual way's
# partition image are removed (untimed), sync, the page cache is dropped
# (echo 3 >/proc/sys/vm/drop_caches, when this is allowed; the output says
# whether it was), then BENCH_SETTLE (5) seconds of quiet (see lib.sh).
#
# Printed: each run's times, the medians, bytes and files restored,
# "ratio manual/vhdrecover" and "ratio restic/vhdrecover" (> 1: vhdrecover
# faster) and whether the issue's goal (>= 5x faster than the manual way)
# is met. Then the check that no fast but wrong restore wins: every
# output's tree (paths, sizes, SHA-256 of each file) must equal the one
# listed through the ntfs-3g mount when the volume was filled, and
# vhdrecover's must equal the manual way's; exit 1 otherwise. Modification
# times are compared too and reported (a difference is not a failure).
#
# usage: bench/scoped-restore.sh [WORKDIR]
#   WORKDIR  the cached setup (default /var/tmp/vr-bench-scoped-NNg, by
#            size); a rerun with the same sizes reuses it, and rebuilds the
#            vhdrecover repository if this vhdrecover cannot read it.
#   env: VHDRECOVER=path/to/vhdrecover, BENCH_RUNS=N (3), BENCH_SETTLE=S (5),
#        BENCH_DISK_GIB=N (8), BENCH_APP_PCT=N (5), BENCH_OTHER_PCT=N (20),
#        BENCH_PEERS="vhdrecover manual restic" (a subset to time),
#        BENCH_WARMUP=0 (no untimed warm-up run), BENCH_KEEP=1.
# Needs root (ntfs-3g mounts of files, dropping caches) and qemu-utils,
# ntfs-3g, restic, fdisk (sfdisk), jq, python3, fuse (/dev/fuse).
# shellcheck disable=SC2317 # the run_ functions are called through seconds
set -euo pipefail

RUNS=${BENCH_RUNS:-3}
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ME=scoped-restore.sh
DISK_GIB=${BENCH_DISK_GIB:-8}
APP_PCT=${BENCH_APP_PCT:-5}
OTHER_PCT=${BENCH_OTHER_PCT:-20}
PEERS=${BENCH_PEERS:-vhdrecover manual restic}
SETTLE=${BENCH_SETTLE:-5}
GEN_VERSION=1

die()
{
	echo "$ME: $*" >&2
	exit 1
}

for tool in qemu-img ntfs-3g mkntfs restic sfdisk jq python3 fusermount \
	mountpoint sha256sum; do
	command -v "$tool" >/dev/null ||
		die "$tool: not installed (qemu-utils, ntfs-3g, restic, fdisk, jq, python3, fuse: tests/bootstrap.sh)"
done
[[ -c /dev/fuse ]] || die "/dev/fuse: missing (ntfs-3g needs FUSE)"
((EUID == 0)) || die "must run as root (ntfs-3g mounts of image files)"
[[ -x $VHDRECOVER ]] || die "$VHDRECOVER: not built (run tests/bootstrap.sh)"
[[ $DISK_GIB =~ ^[1-9][0-9]*$ && $APP_PCT =~ ^[1-9][0-9]*$ &&
	$OTHER_PCT =~ ^[0-9]+$ ]] || die "BENCH_DISK_GIB, BENCH_APP_PCT, BENCH_OTHER_PCT: whole numbers"
((APP_PCT + OTHER_PCT <= 80)) || die "BENCH_APP_PCT + BENCH_OTHER_PCT: at most 80"
for p in $PEERS; do
	case $p in
	vhdrecover | manual | restic) ;;
	*) die "BENCH_PEERS: '$p': not one of vhdrecover, manual, restic" ;;
	esac
done

WORK=${1:-/var/tmp/vr-bench-scoped-${DISK_GIB}g}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd -P)
cd "$WORK"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$WORK/repo-restic
export XDG_CACHE_HOME=$WORK/cache

# The mounts this script makes: unmounted on exit, whatever happens.
cleanup()
{
	local m
	for m in "$WORK/src" "$WORK/mnt-manual"; do
		! mountpoint -q "$m" || fusermount -u "$m" 2>/dev/null || true
	done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# ntfs_mount IMAGE DIR [OPTIONS]: mount with ntfs-3g in the background
# (no_detach: it stays this shell's child, so ntfs_umount can wait for it
# to have written everything back); NTFS_PID gets its pid.
ntfs_mount()
{
	local i
	mkdir -p "$2"
	ntfs-3g -o "no_detach${3:+,$3}" "$1" "$2" 2>>"$WORK/ntfs-3g.log" &
	NTFS_PID=$!
	for ((i = 0; i < 300; i++)); do
		mountpoint -q "$2" && return 0
		kill -0 "$NTFS_PID" 2>/dev/null || break
		sleep 0.02
	done
	echo "$ME: ntfs-3g $1 $2 failed: $(tail -3 "$WORK/ntfs-3g.log")" >&2
	return 1
}

ntfs_umount()
{
	fusermount -u "$1" && wait "$2"
}

# ---------------------------------------------------------------- setup

# gen.py ROOT DISK_BYTES APP_PCT OTHER_PCT: fill the mounted volume.
# listing.py DIR: "PATH/" per directory, "PATH SIZE SHA256 MTIME" per
# file (tab-separated), sorted by path: what a restored tree must equal.
write_helpers()
{
	cat >gen.py <<'PY'
import math, os, random, sys

root, disk, app_pct, other_pct = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(20261126)
M = 1 << 20
scale = disk / (8 << 30)  # file counts scale with the disk

def logu(lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

def small_files(n, base, subdirs, lo, hi, exts):
    out = []
    for i in range(n):
        d = rng.choice(subdirs)
        out.append(("%s/%s/%s%05d.%s" % (base, d, rng.choice(
            ["f", "item ", "rec_", "page-"]), i, rng.choice(exts)),
            logu(lo, hi)))
    return out

files = []  # (path, size)
# the application
app = disk * app_pct // 100
shop = "Apps/ShopDB"
dirs = ["Web/wwwroot/css", "Web/wwwroot/js", "Web/wwwroot/img/products",
        "Web/wwwroot/img/banners", "Config", "Logs", "Reports/2024",
        "Reports/2025", "Customer Uploads/invoices", "Customer Uploads/photos"]
dirs += ["Data/Attachments/%03d" % i for i in range(max(4, int(190 * scale)))]
small = small_files(max(200, int(3000 * scale)), shop, dirs, 200, 512 << 10,
                    ["dat", "html", "js", "css", "png", "log", "xml", "pdf"])
small.append((shop + "/Reports/2025/Rechnungsübersicht März.pdf", 123457))
small.append((shop + "/Config/empty.lock", 0))
small.append((shop + "/Logs/tiny.log", 17))
left = max(4 * M, app - sum(s for _, s in small))
for name, share in [("Data/ShopDB.mdf", 45), ("Data/ShopDB_log.ldf", 20),
                    ("Backup/ShopDB_full.bak", 25),
                    ("Data/ShopDB_archive.ndf", 10)]:
    small.append((shop + "/" + name, left * share // 100 // 4096 * 4096 + 1234))
files += small
os.makedirs(os.path.join(root, shop, "Temp/empty dir"), exist_ok=True)
# everything else
other = disk * other_pct // 100
osdirs = ["System32", "System32/drivers", "System32/config", "SysWOW64",
          "WinSxS/amd64_microsoft-windows-a", "WinSxS/amd64_microsoft-windows-b",
          "Fonts", "Logs/CBS", "servicing/Packages", "INF"]
ostree = small_files(max(300, int(5000 * scale)), "Windows", osdirs, 256,
                     1 << 20, ["dll", "sys", "exe", "mui", "cat", "log", "inf"])
ostree += small_files(max(20, int(300 * scale)), "Apps/ShopDB-old",
                      ["Data", "Web"], 200, 256 << 10, ["dat", "html"])
files += ostree
left = max(8 * M, other - sum(s for _, s in ostree))
for name, share in [("pagefile.sys", 35),
                    ("Users/Public/Videos/training 2024.mp4", 25),
                    ("Users/alice/Documents/archive.zip", 15),
                    ("Apps/CRM/Data/CRM.mdf", 25)]:
    files.append((name, left * share // 100 // 4096 * 4096))

rng.shuffle(files)  # the application's files land all over the volume
total = 0
for path, size in files:
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        n = size
        while n:
            k = min(n, M)
            f.write(rng.randbytes(k))
            n -= k
    t = rng.randrange(1577836800, 1735689600)  # 2020 .. 2024
    os.utime(full, (t, t))
    total += size
appn = sum(1 for p, _ in files if p.startswith(shop + "/"))
appb = sum(s for p, s in files if p.startswith(shop + "/"))
print("%d files, %.0f MiB; the application: %d files, %.0f MiB (%.1f%% of the disk)"
      % (len(files), total / M, appn, appb / M, 100 * appb / disk))
PY
	cat >listing.py <<'PY'
import hashlib, os, sys

top = sys.argv[1]
out = []
for d, subdirs, names in os.walk(top):
    rel = os.path.relpath(d, top)
    if rel != ".":
        out.append((rel + "/", "-", "-", "-"))
    for n in names:
        p = os.path.join(d, n)
        st = os.lstat(p)
        if os.path.islink(p):
            out.append((os.path.relpath(p, top), "link", os.readlink(p), "-"))
            continue
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while b := f.read(1 << 20):
                h.update(b)
        out.append((os.path.relpath(p, top), str(st.st_size), h.hexdigest(),
                    str(int(st.st_mtime))))
for row in sorted(out):
    print("\t".join(row))
PY
}

# setup: the volume, restic's backup of it, base.vhdx; stamp setup.done.
setup()
{
	local size start t

	echo "setup in $WORK: ${DISK_GIB} GiB disk, application ${APP_PCT}%," \
		"other data ${OTHER_PCT}% (once; later runs reuse it)"
	rm -rf src repo-restic cache base.vhdx disk.raw part.img repo-vr \
		child.vhdx ./*.done
	write_helpers
	truncate -s "${DISK_GIB}G" disk.raw
	sfdisk --quiet disk.raw <<-EOF
		label: gpt
		start=2048, name=ShopData, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
	EOF
	start=$(sfdisk --json disk.raw | jq '.partitiontable.partitions[0].start')
	size=$(sfdisk --json disk.raw | jq '.partitiontable.partitions[0].size')
	truncate -s $((size * 512)) part.img
	mkntfs -q -Q -F -s 512 -p "$start" -H 255 -S 63 -L ShopData part.img \
		>mkntfs.log 2>&1 || {
		cat mkntfs.log >&2
		die "mkntfs failed"
	}
	ntfs_mount part.img "$WORK/src" big_writes || die "mount failed"
	t=$(seconds python3 gen.py "$WORK/src" $((DISK_GIB << 30)) "$APP_PCT" \
		"$OTHER_PCT" 2>gen.out) || {
		cat gen.out >&2
		die "filling the volume failed"
	}
	echo "  filled through ntfs-3g in $t s: $(cat gen.out)"
	python3 listing.py "$WORK/src/Apps/ShopDB" >want.lst
	restic init >restic-init.log 2>&1 || {
		cat restic-init.log >&2
		die "restic init failed"
	}
	t=$(seconds restic backup --quiet "$WORK/src") ||
		die "restic backup failed"
	echo "  restic backup of the whole volume in $t s"
	ntfs_umount "$WORK/src" "$NTFS_PID" || die "unmount failed"
	dd if=part.img of=disk.raw bs=1M seek=$((start * 512 / 1048576)) \
		conv=notrunc,sparse status=none
	t=$(seconds "$VHDRECOVER" convert --no-progress -O vhdx disk.raw \
		base.vhdx) || die "convert failed"
	echo "  base.vhdx by vhdrecover convert in $t s"
	echo "$start $size" >part.geom
	if [[ ${BENCH_KEEP:-0} != 1 ]]; then
		rm -f disk.raw part.img
	fi
	touch setup.done
}

# repo_setup: the vhdrecover repository: base gold, point shop:latest.
repo_setup()
{
	bench_vr_repo shop
	cat >policy.yaml <<-'EOF'
		version: 1
		name: scoped-restore-bench
		applications:
		  - name: shopdb
		    volume: 1
		    include: ["/Apps/ShopDB/**"]
	EOF
	touch repo.done
}

params="disk_gib=$DISK_GIB app_pct=$APP_PCT other_pct=$OTHER_PCT gen=$GEN_VERSION work=$WORK"
if [[ -e params && $(cat params) != "$params" ]]; then
	die "$WORK holds a setup made with other parameters ($(cat params)): remove it or give another directory"
fi
echo "$params" >params
[[ -e setup.done ]] || setup
write_helpers
if [[ ! -e repo.done ]] || ! "$VHDRECOVER" points repo-vr >/dev/null 2>&1; then
	repo_setup
fi
read -r PSTART PSIZE <part.geom

# ---------------------------------------------------------------- timed

# outputs: where each tool puts the application's directory /Apps/ShopDB
app_dir()
{
	case $1 in
	vhdrecover) echo "$WORK/out-vhdrecover/shopdb/Apps/ShopDB" ;;
	manual) echo "$WORK/out-manual/Apps/ShopDB" ;;
	restic) echo "$WORK/out-restic$WORK/src/Apps/ShopDB" ;;
	esac
}

run_vhdrecover()
{
	"$VHDRECOVER" restore --json --no-progress repo-vr shop:latest \
		--policy policy.yaml --app shopdb --to "$WORK/out-vhdrecover" \
		>vr.json
}

run_manual()
{
	local pid t0 t1
	t0=$(date +%s.%N)
	qemu-img convert -O raw --image-opts \
		"driver=raw,offset=$((PSTART * 512)),size=$((PSIZE * 512)),file.driver=vhdx,file.file.driver=file,file.file.filename=$WORK/base.vhdx" \
		"$WORK/manual.raw" || return
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }' \
		>manual-convert.txt
	ntfs_mount "$WORK/manual.raw" "$WORK/mnt-manual" ro || return
	pid=$NTFS_PID
	mkdir -p "$WORK/out-manual/Apps"
	cp -a "$WORK/mnt-manual/Apps/ShopDB" "$WORK/out-manual/Apps/" || {
		ntfs_umount "$WORK/mnt-manual" "$pid"
		return 1
	}
	ntfs_umount "$WORK/mnt-manual" "$pid"
}

run_restic()
{
	restic restore latest --target "$WORK/out-restic" \
		--include "$WORK/src/Apps/ShopDB" >restic.out
}

DROPPED=no
reset()
{
	rm -rf "$WORK/out-$1" "$WORK/manual.raw"
	sync
	if echo 3 2>/dev/null >/proc/sys/vm/drop_caches; then
		DROPPED=yes
	fi
	sleep "$SETTLE"
}

# timed TOOL: one run, its seconds on stdout
timed()
{
	case $1 in
	vhdrecover) seconds run_vhdrecover ;;
	manual) seconds run_manual ;;
	restic) seconds run_restic ;;
	esac || {
		echo "$ME: $1 failed" >&2
		[[ $1 != vhdrecover ]] || cat vr.json >&2
		return 1
	}
}

read -ra peers <<<"$PEERS"
declare -A times=()
convert_times=()
if [[ ${BENCH_WARMUP:-1} != 0 ]]; then
	for p in "${peers[@]}"; do
		reset "$p"
		timed "$p" >/dev/null || exit 1
	done
fi
for ((i = 1; i <= RUNS; i++)); do
	order=()
	for ((j = 0; j < ${#peers[@]}; j++)); do
		order+=("${peers[(i - 1 + j) % ${#peers[@]}]}")
	done
	line="run $i:"
	for p in "${order[@]}"; do
		reset "$p"
		t=$(timed "$p") || exit 1
		times[$p]+=" $t"
		[[ $p != manual ]] || convert_times+=("$(cat manual-convert.txt)")
		line+=" $p $t s,"
	done
	echo "${line%,}"
done
echo "page cache dropped before each run: $DROPPED; settle ${SETTLE} s"

med()
{
	# shellcheck disable=SC2086 # one time a word
	median ${times[$1]}
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

declare -A label=(
	[vhdrecover]="vhdrecover restore --policy --app"
	[manual]="manual (qemu-img convert + ntfs-3g + cp -a)"
	[restic]="restic restore --include"
)
echo
for p in "${peers[@]}"; do
	read -r n b < <(find "$(app_dir "$p")" -type f -printf '%s\n' |
		awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }')
	printf '%-46s median of %d: %8.3f s  (%d files, %d bytes restored)\n' \
		"${label[$p]}" "$RUNS" "$(med "$p")" "$n" "$b"
	[[ $p != manual ]] ||
		echo "  of which qemu-img convert of the partition: median" \
			"$(median "${convert_times[@]}") s"
done
echo "the disk: ${DISK_GIB} GiB, base.vhdx $(du -k base.vhdx | cut -f1) KiB" \
	"allocated; the application on the volume: $(awk -F'\t' '
		$2 ~ /^[0-9]+$/ { n++; b += $2 }
		END { printf "%d files, %d bytes", n, b }' want.lst)"
if [[ -n ${times[vhdrecover]:-} ]]; then
	[[ ! -s vr.json ]] || {
		echo "vhdrecover --json: $(jq -c . vr.json)"
		jq -r '"vhdrecover fetched \(.chunks_fetched) chunks," +
			" \(.bytes_fetched / 1048576 | floor) MiB, from the" +
			" repository for \(.bytes / 1048576 | floor) MiB of files"' \
			vr.json
	}
	for p in manual restic; do
		[[ -n ${times[$p]:-} ]] || continue
		echo "ratio $p/vhdrecover $(ratio "$(med "$p")" "$(med vhdrecover)")" \
			"(> 1: vhdrecover faster)"
	done
	if [[ -n ${times[manual]:-} ]]; then
		if awk -v m="$(med manual)" -v v="$(med vhdrecover)" \
			'BEGIN { exit !(m / v >= 5) }'; then
			echo "GOAL MET:    >= 5x faster than the manual way"
		else
			echo "GOAL MISSED: >= 5x faster than the manual way"
		fi
	fi
fi

# ---------------------------------------------------------------- check

echo
bad=0
for p in "${peers[@]}"; do
	python3 listing.py "$(app_dir "$p")" >"got-$p.lst"
	if diff -q <(cut -f1-3 want.lst) <(cut -f1-3 "got-$p.lst") >/dev/null; then
		echo "check $p: paths, sizes and SHA-256 as on the volume: OK"
	else
		echo "check $p: DIFFERS from the volume's files:"
		diff <(cut -f1-3 want.lst) <(cut -f1-3 "got-$p.lst") | head -10
		bad=1
	fi
	n=$(diff <(cut -f1,4 want.lst) <(cut -f1,4 "got-$p.lst") |
		grep -c '^>' || true)
	echo "  mtimes: $n of $(grep -c $'\t[0-9]*$' want.lst) files differ (not a failure)"
done
if [[ -e got-vhdrecover.lst && -e got-manual.lst ]]; then
	if diff -q <(cut -f1-3 got-vhdrecover.lst) <(cut -f1-3 got-manual.lst) \
		>/dev/null; then
		echo "check: vhdrecover's output equals the manual way's: OK"
	else
		echo "check: vhdrecover's output DIFFERS from the manual way's"
		bad=1
	fi
fi
rm -rf "$WORK"/out-* "$WORK/manual.raw"
exit $bad

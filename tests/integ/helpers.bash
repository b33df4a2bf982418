# helpers.bash - shared helpers for the bats integration tests.
#
# Load from a test file with `load helpers` (bats resolves it next to the
# test file), then call vr_setup/vr_teardown from the file's own
# setup/teardown:
#
#   load helpers
#   setup() { vr_setup; }
#   teardown() { vr_teardown; }
#
# `make check` exports VHDRECOVER (absolute path of the binary) and
# TOP_SRCDIR; run by hand from the top of the source tree, both default to
# the usual places: bats --tap tests/integ/corpus.bats

# `run --separate-stderr` (bats >= 1.5) fills $stderr and $stderr_lines.
# shellcheck disable=SC2154 # status, output, stderr, stderr_lines: set by run
bats_require_minimum_version 1.5.0

VHDRECOVER=${VHDRECOVER:-$PWD/build/vhdrecover}
TOP_SRCDIR=${TOP_SRCDIR:-$PWD}
CORPUS=$TOP_SRCDIR/tests/corpus
export VHDRECOVER TOP_SRCDIR CORPUS

# vr_setup: a fresh work directory for this test in $VR_WORK, made the
# current directory, so tests can use short relative file names. Fails the
# test early when the binary or the corpus is not where it should be.
vr_setup()
{
	if [[ ! -x $VHDRECOVER ]]; then
		echo "vhdrecover not found or not executable: $VHDRECOVER" >&2
		return 1
	fi
	if [[ ! -d $CORPUS ]]; then
		echo "corpus not found: $CORPUS (is TOP_SRCDIR right?)" >&2
		return 1
	fi
	VR_WORK=$(mktemp -d "${TMPDIR:-/tmp}/vr-integ.XXXXXX") || return 1
	export VR_WORK
	VR_MOUNTS=()
	cd "$VR_WORK" || return 1
}

# vr_teardown: unmount what vhdi_mount mounted, remove the work directory
# of vr_setup (and only that).
vr_teardown()
{
	local m

	cd / || return 1
	# Unmount first: a live FUSE mount cannot be removed.
	for m in "${VR_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || fusermount -u "$m" 2>/dev/null ||
			umount -l "$m" 2>/dev/null || true
	done
	VR_MOUNTS=()
	if [[ -n ${VR_WORK:-} && -d $VR_WORK &&
		$VR_WORK == */vr-integ.* ]]; then
		rm -rf -- "$VR_WORK"
	fi
	VR_WORK=
}

# corpus_extract REL DEST: decompress tests/corpus/REL to DEST, by the
# extension of REL (.gz, .bz2, .xz; anything else is copied). DEST is left
# writable, so tests may modify their copy; the corpus itself is read-only.
corpus_extract()
{
	local rel=$1 dest=$2 src=$CORPUS/$1

	if [[ ! -f $src ]]; then
		echo "corpus_extract: no such corpus file: $src" >&2
		return 1
	fi
	case $rel in
	*.gz) gzip -dc -- "$src" >"$dest" ;;
	*.bz2) bzip2 -dc -- "$src" >"$dest" ;;
	*.xz) xz -dc -- "$src" >"$dest" ;;
	*) cat -- "$src" >"$dest" ;;
	esac || {
		echo "corpus_extract: cannot decompress $src to $dest" >&2
		return 1
	}
	chmod u+w -- "$dest"
}

# sha_of FILE: print the SHA-256 of FILE (hex, nothing else).
sha_of()
{
	local out

	out=$(sha256sum <"$1") || return 1
	echo "${out%% *}"
}

# assert_one_line_error PATTERN [STATUS]: the handled-error contract
# (DESIGN.md section 3) for the last `run --separate-stderr`: exit status
# STATUS (1 by default; 3 for a planner alert), and exactly one line on
# stderr, starting with "vhdrecover: " and matching the extended regular
# expression PATTERN.
assert_one_line_error()
{
	local pattern=$1 want=${2:-1}

	if [[ $status -ne $want ]]; then
		echo "expected exit status $want, got $status"
		echo "stderr: ${stderr-}"
		return 1
	fi
	if [[ ${#stderr_lines[@]} -ne 1 || $stderr == *$'\n'* ]]; then
		echo "expected exactly one line on stderr, got" \
			"${#stderr_lines[@]}:"
		printf '%s\n' "$stderr"
		return 1
	fi
	if [[ $stderr != "vhdrecover: "* ]]; then
		echo "stderr does not start with 'vhdrecover: ': $stderr"
		return 1
	fi
	if ! [[ $stderr =~ $pattern ]]; then
		echo "stderr does not match /$pattern/: $stderr"
		return 1
	fi
}

# assert_usage_error: the bad-usage contract for the last
# `run --separate-stderr`: exit status 2 and a hint to --help on stderr.
assert_usage_error()
{
	if [[ $status -ne 2 ]]; then
		echo "expected exit status 2, got $status"
		echo "stderr: ${stderr-}"
		return 1
	fi
	if [[ $stderr != *"--help"* ]]; then
		echo "no hint to --help on stderr: $stderr"
		return 1
	fi
}

# same_bytes A B: A and B have the same size and content (cmp, so sparse
# files are compared byte for byte).
same_bytes()
{
	local sa sb

	sa=$(stat -c %s -- "$1") && sb=$(stat -c %s -- "$2") || return 1
	if [[ $sa != "$sb" ]]; then
		echo "size differs: $1 is $sa bytes, $2 is $sb bytes"
		return 1
	fi
	cmp -- "$1" "$2"
}

# qemu_json FILE [qemu-img info args...]: qemu-img info --output=json.
qemu_json()
{
	local f=$1

	shift
	qemu-img info --output=json "$@" "$f"
}

# file_range FILE OFFSET LENGTH: print LENGTH bytes of FILE at OFFSET.
file_range()
{
	dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" \
		bs=1M status=none
}

# flip_byte FILE OFFSET: invert every bit of the byte at OFFSET of FILE, so
# the byte always changes (writing a fixed value would leave a byte that
# already holds it as it was).
flip_byte()
{
	python3 - "$1" "$2" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    assert len(b) == 1, "offset past the end of the file"
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

# disk_sha DISK: SHA-256 of DISK's whole virtual content, read by us.
disk_sha()
{
	local size out

	size=$("$VHDRECOVER" info --json "$1" | jq -r '.virtual_size') ||
		return 1
	out=$("$VHDRECOVER" read "$1" 0 "$size" | sha256sum) || return 1
	echo "${out%% *}"
}

# point_ids REPO: the committed point ids, sorted by name.
point_ids()
{
	find "$1/points" -name '*.point' -printf '%f\n' | sed 's/\.point$//' |
		sort
}

# json_true JSON EXPR [JQ_OPTIONS...]: EXPR (a jq filter) gives exactly
# `true` on the one JSON document JSON. (jq 1.6's -e exits 0 on empty
# input, so it cannot be used for this.)
json_true()
{
	local json=$1 expr=$2 got

	shift 2
	if [[ -z ${json//[[:space:]]/} ]]; then
		echo "no JSON document to check ($expr)"
		return 1
	fi
	if ! got=$(jq "$@" "$expr" <<<"$json"); then
		echo "jq could not evaluate: $expr"
		printf '%s\n' "$json" | head -c 4000
		return 1
	fi
	if [[ $got != true ]]; then
		echo "JSON check failed: $expr"
		echo "result: $got"
		printf '%s\n' "$json" | head -c 4000
		return 1
	fi
}

# vhdi_mount IMAGE DIR (relative to the test directory): mount IMAGE's
# chain with libvhdi's vhdimount (it finds each parent by the file name in
# absolute_win32_path, in the child's directory) and set VHDI_TOP to the
# file showing the whole chain. vhdimount names the layers vhdi1..vhdiN,
# base first, so the top is the last one. vr_teardown unmounts it.
vhdi_mount()
{
	local img=$1 dir=$2 i

	mkdir -p "$dir"
	# vhdimount daemonizes once mounted; fd 3 is bats' and must not leak
	# into the daemon, or bats waits for it.
	vhdimount "$img" "$dir" >"$dir.log" 2>&1 3>&- || {
		cat "$dir.log"
		return 1
	}
	VR_MOUNTS+=("$VR_WORK/$dir")
	for i in $(seq 100); do
		[ -e "$dir/vhdi1" ] && break
		sleep 0.1
	done
	VHDI_TOP=$dir/$(ls "$dir" | sort -V | tail -n 1)
	[ -f "$VHDI_TOP" ]
}

# vhdi_umount DIR: unmount a vhdi_mount (before the image changes again).
vhdi_umount()
{
	umount "$1"
}

# sparse_cmp A B: like cmp, but ranges that are holes in both files are
# known to be equal (zeros) without reading them: a 4 GiB sparse image then
# costs only its data.
# sparse_cmp --data-of B A B: compare only where B has data (A may be a
# FUSE file, whose holes cannot be found). Ranges B holds as holes are
# then not compared: use where A's content there is checked otherwise.
sparse_cmp()
{
	local only_b=0

	if [[ $1 == --data-of ]]; then
		only_b=1
		shift 2
	fi
	python3 - "$1" "$2" "$only_b" <<'EOF'
import os, sys
fa, fb = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(fa).st_size
if os.fstat(fb).st_size != size:
    sys.exit("%s and %s differ in size" % tuple(sys.argv[1:3]))
def runs(fd):
    off = 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            return
        h = os.lseek(fd, d, os.SEEK_HOLE)
        yield d, h
        off = h
spans = list(runs(fb)) + ([] if sys.argv[3] == "1" else list(runs(fa)))
for start, end in sorted(spans):
    for o in range(start, end, 1 << 20):
        n = min(1 << 20, end - o)
        if os.pread(fa, n, o) != os.pread(fb, n, o):
            sys.exit("%s and %s differ in the MiB at %d" %
                     (sys.argv[1], sys.argv[2], o))
EOF
}

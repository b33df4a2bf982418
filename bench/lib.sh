# lib.sh - what the bench/ scripts share: finding vhdrecover, a scratch
# directory, timing, and the alternating vhdrecover-vs-peer runs whose
# median ratio each script prints (STYLE.md: speed is a ratio against a
# peer measured in the same run, never an absolute number).
#
# A script sets PEER (the peer's name), defines time_vr and time_peer
# (each prints the seconds of one run, see `seconds`) and optionally
# bench_reset (run before every timed run, given "vr" or "peer"), then
# calls bench_compare.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VHDRECOVER=${VHDRECOVER:-build/vhdrecover}
[[ $VHDRECOVER == /* ]] || VHDRECOVER=$ROOT/$VHDRECOVER
BUILD=$(dirname "$VHDRECOVER")
RUNS=${RUNS:-5}

# bench_init NAME: check the build, make the scratch directory (in
# /var/tmp: GiBs of input and output do not belong in a tmpfs /tmp) and
# go there; it is removed on exit.
bench_init()
{
	[[ -x $VHDRECOVER ]] || {
		echo "$1: $VHDRECOVER: not built (run tests/bootstrap.sh)" >&2
		exit 1
	}
	BENCH_WORK=$(mktemp -d /var/tmp/vr-bench.XXXXXX)
	trap 'rm -rf "$BENCH_WORK"' EXIT
	cd "$BENCH_WORK"
}

# Print the wall-clock seconds of running a command (its own output goes to
# stderr). Called in $(...), where set -e is off: pass a failure on.
seconds()
{
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >&2 || return
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median()
{
	printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

bench_reset()
{
	:
}

# bench_compare LABEL: RUNS pairs of runs, alternating who goes first.
# Before each run: bench_reset, sync, then BENCH_SETTLE (5) seconds of
# quiet. This machine's disk sits behind a host that goes on writing after
# sync returns: without the pause the second run of every pair took up to
# three times as long, whichever tool it was, and the median measured the
# order, not the tools. Prints each run, the medians and the ratio.
bench_compare()
{
	local label=$1 i tool order t vr peer
	local vr_times=() peer_times=()

	# One untimed run each first: the first run after making the input
	# was seen to take up to four times as long, for either tool.
	for tool in vr peer; do
		bench_reset "$tool"
		"time_$tool" >/dev/null
	done
	for ((i = 1; i <= RUNS; i++)); do
		order="vr peer"
		((i % 2)) || order="peer vr"
		for tool in $order; do
			bench_reset "$tool"
			sync
			sleep "${BENCH_SETTLE:-5}"
			t=$("time_$tool") || {
				echo "$label: $tool run failed" >&2
				exit 1
			}
			if [[ $tool == vr ]]; then
				vr_times+=("$t")
			else
				peer_times+=("$t")
			fi
		done
		echo "run $i: vhdrecover ${vr_times[-1]} s, $PEER ${peer_times[-1]} s"
	done
	vr=$(median "${vr_times[@]}")
	peer=$(median "${peer_times[@]}")
	echo "$label vhdrecover (median of $RUNS): $vr s"
	echo "$label $PEER (median of $RUNS): $peer s"
	awk -v q="$peer" -v v="$vr" -v p="$PEER" 'BEGIN {
		printf "ratio (%s / vhdrecover): %.2f", p, q / v
		print " (>= 1.0 means vhdrecover is at least as fast)"
	}'
}

# bench_vr_repo NAME: in the working directory, the vhdrecover repository
# repo-vr holding base.vhdx as base "gold" and one point of disk NAME,
# replicated from a differencing child of it (child.vhdx); repo.log gets
# their messages. Dies (the script's die) on failure.
bench_vr_repo()
{
	local t
	rm -rf repo-vr child.vhdx
	"$VHDRECOVER" repo init repo-vr >/dev/null || die "repo init failed"
	t=$(seconds "$VHDRECOVER" base add --no-progress repo-vr base.vhdx \
		--name gold 2>repo.log) || {
		cat repo.log >&2
		die "base add failed"
	}
	echo "  base add gold in $t s"
	"$VHDRECOVER" create child.vhdx --parent base.vhdx >/dev/null ||
		die "create --parent failed"
	t=$(seconds "$VHDRECOVER" replicate --no-progress repo-vr child.vhdx \
		--name "$1" 2>>repo.log) || {
		cat repo.log >&2
		die "replicate failed"
	}
	echo "  replicate child.vhdx as $1 in $t s"
}

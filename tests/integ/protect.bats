#!/usr/bin/env bats
# protect.bats - "vhdrecover protect": cycles on a schedule until SIGTERM,
# one line (or JSON object) per cycle; and the DR runbook
# examples/dr-restore.sh restoring what protect made.

load helpers

setup()
{
	vr_setup
	PROTECT=
}

teardown()
{
	[[ -z $PROTECT ]] || kill -9 "$PROTECT" 2>/dev/null || true
	vr_teardown
}

@test "protect runs a cycle per interval, one JSON line each, and SIGTERM ends it cleanly" {
	"$VHDRECOVER" create golden.vhdx --size 32M
	head -c 4M /dev/urandom >os.data
	"$VHDRECOVER" write golden.vhdx 0 os.data
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" base add r golden.vhdx --name golden >/dev/null
	"$VHDRECOVER" create vm1.vhdx --parent golden.vhdx

	"$VHDRECOVER" protect r vm1.vhdx --every 1s --json >cycles.log \
		2>protect.err &
	PROTECT=$!
	local i
	for i in 1 2 3; do
		sleep 1.2
		head -c 64K /dev/urandom >w$i
		# the writer waits for a cycle in progress to let go of the disk
		until "$VHDRECOVER" write vm1.vhdx $((i * 1024 * 1024)) w$i \
			2>/dev/null; do
			sleep 0.05
		done
	done
	sleep 1.5
	kill -TERM "$PROTECT"
	wait "$PROTECT"
	PROTECT=
	[ ! -s protect.err ]
	# one JSON object per line, every cycle a point over the base
	local n
	n=$(wc -l <cycles.log)
	[ "$n" -ge 4 ]
	[ "$(jq -s 'map(select(.base == "golden" and .id != null)) |
		length' cycles.log)" -eq "$n" ]
	[ "$("$VHDRECOVER" points --json r | jq length)" -eq "$n" ]
	# the first cycle scans; the rest follow the bitmap
	jq -s -e '.[0].full_scan and (.[1:] | all(.full_scan | not))' \
		cycles.log >/dev/null
	# the newest point is the disk as it was left
	"$VHDRECOVER" restore r vm1:latest --to last.raw >/dev/null
	"$VHDRECOVER" convert vm1.vhdx vm1.raw
	cmp last.raw vm1.raw

	# the DR runbook brings it back over a local copy of the base
	cp golden.vhdx site-golden.vhdx
	run env PATH="$(dirname "$VHDRECOVER"):$PATH" "$TOP_SRCDIR/examples/dr-restore.sh" r vm1 site-golden.vhdx dr.vhdx
	[ "$status" -eq 0 ]
	[[ $output == *"start the machine on dr.vhdx"* ]]
	"$VHDRECOVER" convert dr.vhdx dr.raw
	cmp dr.raw vm1.raw
	# and refuses a wrong base, leaving nothing behind
	"$VHDRECOVER" create other.vhdx --size 32M
	"$VHDRECOVER" write other.vhdx 0 w1
	run env PATH="$(dirname "$VHDRECOVER"):$PATH" "$TOP_SRCDIR/examples/dr-restore.sh" r vm1 other.vhdx dr2.vhdx
	[ "$status" -ne 0 ]
	[[ $output == *"differs from base golden"* ]]
	[ ! -e dr2.vhdx ]
}

@test "protect refuses bad usage; a cycle that fails is reported and the next runs" {
	run --separate-stderr "$VHDRECOVER" protect r d.vhdx
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" protect r d.vhdx --every 0s
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" replicate r d.vhdx --every 1s
	assert_usage_error
	# no repository yet: every cycle fails with a line, protect goes on
	"$VHDRECOVER" create d.vhdx --size 8M
	"$VHDRECOVER" protect r d.vhdx --every 1s >out.log 2>err.log &
	PROTECT=$!
	sleep 2.5
	"$VHDRECOVER" repo init r
	sleep 1.5
	kill -TERM "$PROTECT"
	wait "$PROTECT" || true
	PROTECT=
	grep -q "vhdrecover: r: not a repository" err.log
	grep -q "d.vhdx: point d-" out.log
}

@test "replicate --policy runs the policy's quiesce hooks; policy check names FILE:LINE:COL" {
	run "$VHDRECOVER" policy check "$TOP_SRCDIR/examples/branch-office.yaml"
	[ "$status" -eq 0 ]
	[[ ${lines[1]} == "  1. sql on partition 2:"* ]]
	[[ ${lines[2]} == "  2. web on partition 1:"* ]]
	"$VHDRECOVER" create d.vhdx --size 8M
	"$VHDRECOVER" repo init r
	cat >p.yaml <<'EOF2'
version: 1
name: hooks
quiesce: { pre: "echo pre $VR_DISK_NAME >>hooks.log", post: "echo post >>hooks.log" }
EOF2
	run "$VHDRECOVER" replicate --json --policy p.yaml r d.vhdx
	[ "$status" -eq 0 ]
	json_true "$output" '.consistent'
	[ "$(cat hooks.log)" = $'pre d\npost' ]
	# the command line wins over the policy
	run "$VHDRECOVER" replicate --policy p.yaml --pre 'echo flag >>hooks.log' r d.vhdx
	[ "$status" -eq 0 ]
	[ "$(tail -2 hooks.log)" = $'flag\npost' ]
	# a bad policy stops the cycle before anything happens
	printf 'version: 1\nname: hooks\nquiesce: { pre: x, psot: y }\n' >bad.yaml
	run --separate-stderr "$VHDRECOVER" replicate --policy bad.yaml r d.vhdx
	assert_one_line_error "^vhdrecover: bad\\.yaml:3:20: quiesce: unknown key 'psot' \\(did you mean 'post'\\?\\)$"
	run --separate-stderr "$VHDRECOVER" policy check bad.yaml
	assert_one_line_error "^vhdrecover: bad\\.yaml:3:20: "
	[ "$("$VHDRECOVER" points --json r | jq length)" -eq 2 ]
	run --separate-stderr "$VHDRECOVER" policy frob x
	assert_usage_error
}

#!/usr/bin/env bats
# plan.bats - the storage planner, retention and garbage collection
# (vhdrecover plan, forget, repo quota, repo gc, and what replicate does
# with them): hundreds of cycles under a simulated clock (faketime) against
# a quota that becomes too small, retention rules at the command line,
# forget killed during its collection, a real full file system, and the
# planner's JSON held to docs/plan-schema.json.

# shellcheck disable=SC2154 # status, output, stderr: set by bats' run
# shellcheck disable=SC2016 # jq programs and alert commands: for jq and sh
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

# at_time EPOCH CMD...: run CMD with a clock (time(), clock_gettime())
# that starts at EPOCH seconds (UTC) and runs on from there: Debian's
# faketime. Under ASan, libfaketime is preloaded before ASan's runtime,
# which ASan accepts only with verify_asan_link_order=0 (appended to the
# options make check gives).
at_time()
{
	local t=$1

	shift
	TZ=UTC ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		faketime -f "@$(date -u -d "@$t" '+%Y-%m-%d %H:%M:%S')" "$@"
}

# epoch TEXT: seconds since 1970 of the UTC time TEXT (date -d syntax).
epoch()
{
	TZ=UTC date -u -d "$1" +%s
}

# rng_next: the next number of this file's seeded generator (a 31-bit
# LCG; bash's $RANDOM might be drawn from by others) into R, 0..32767.
rng_next()
{
	RNG=$(((RNG * 1103515245 + 12345) % 2147483648))
	R=$((RNG / 65536))
}

# points_expiry REPO [EPOCH]: "ID EXPIRES" a line, sorted by id, EXPIRES
# in seconds since 1970 or "none" (points --json, at EPOCH if given).
points_expiry()
{
	local json

	if [[ -n ${2:-} ]]; then
		json=$(at_time "$2" "$VHDRECOVER" points --json "$1") || return 1
	else
		json=$("$VHDRECOVER" points --json "$1") || return 1
	fi
	jq -r '.[] | "\(.id) \(if .expires == null then "none"
		else .expires | fromdateiso8601 end)"' <<<"$json" | sort
}

# repo_state REPO: every file of REPO but its lock (which holds the pid of
# its last writer) with its SHA-256, sorted: equal before and after a
# command that must change nothing.
repo_state()
{
	(cd "$1" && find . -type f ! -path ./lock -print0 | sort -z |
		xargs -0 -r sha256sum)
}

# ---- the tests ----
#
# (No test here names a variable i: bats 1.8's run, given a flag such as
# --separate-stderr, sets a global i.)

# A disk of 128 MiB gets, every 10 simulated minutes, 1..8 new chunks of
# noise at a growing frontier (24 more every 40th cycle) and 1..3
# overwrites in its first MiB, then a cycle keeping 2 hours of points
# (and the last 6) with an alert command. At cycle 120 the quota becomes
# what is used plus 1.4 times the growth since cycle 50, and plan's
# projection of when it is full is noted. Checked: (a) no point goes
# before its expiry; (b) no cycle fails, an alert comes before the first
# deferred cycle, deferred cycles (exit 3) commit nothing; (c) the
# projection is within 25% of the time to the first deferred cycle; (d)
# every point left restores to the disk as it was then, and repo check
# --read-data is clean. PLAN_SEED=N picks another sequence of changes.
@test "simulation: 200+ cycles of varying change against a quota that becomes too small: alert first, then deferral, the forecast holds, no unexpired point is lost" {
	local t0 t cyc n h k c front=$M w0 w1 now_hi id exp
	local used50=0 used_q quota t_proj days proj_growth proj_left
	local first_alert=0 first_deferred=0 first_logged='' deferred=0
	local committed=0 forgotten=0 actual err_pct q_at=120 max=260
	local -A cycle_of
	RNG=${PLAN_SEED:-20260105}
	echo "seed $RNG"
	t0=$(epoch '2026-01-05 00:00:00')
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 128M
	mkdir data
	: >ops
	: >pts.prev
	for ((cyc = 1; cyc <= max; cyc++)); do
		t=$((t0 + cyc * 600))
		# fresh data at a growing frontier: 1..8 chunks, and a burst of
		# 24 more every 40 cycles
		rng_next
		n=$((R % 8 + 1))
		((cyc % 40 != 20)) || n=$((n + 24))
		((front + n * CS <= 128 * M)) || {
			echo "cycle $cyc: the frontier ran off the disk"
			false
		}
		head -c $((n * CS)) /dev/urandom >"data/$cyc.f"
		"$VHDRECOVER" write d.vhdx "$front" "data/$cyc.f" >/dev/null
		echo "$cyc $front data/$cyc.f" >>ops
		front=$((front + n * CS))
		# 1..3 overwrites in the first MiB: garbage once their points go
		rng_next
		h=$((R % 3 + 1))
		for ((k = 1; k <= h; k++)); do
			rng_next
			c=$((R % 16))
			head -c $CS /dev/urandom >"data/$cyc.h$k"
			"$VHDRECOVER" write d.vhdx $((c * CS)) "data/$cyc.h$k" >/dev/null
			echo "$cyc $((c * CS)) data/$cyc.h$k" >>ops
		done

		w0=$(date +%s)
		run --separate-stderr at_time "$t" "$VHDRECOVER" replicate --json \
			r d.vhdx --keep-within 2h --keep-last 6 \
			--alert 'echo "$VR_ALERT $VR_DAYS_LEFT" >>alerts.log'
		w1=$(date +%s)
		# the program's clock was at most this far on
		now_hi=$((t + w1 - w0 + 1))
		points_expiry r >pts.cur
		if ((status == 0)); then
			committed=$((committed + 1))
			json_true "$output" '.deferred == false and
				(.planner.verdict == "fits" or
				 .planner.verdict == "tight") and
				(.expires | fromdateiso8601) - (.id |
				 sub("^d-"; "") | strptime("%Y%m%dT%H%M%SZ") |
				 mktime) == 7200'
			id=$(jq -r .id <<<"$output")
			cycle_of[$id]=$cyc
			forgotten=$((forgotten + $(jq .forgotten <<<"$output")))
			# the new point is the one listed now and not before
			[ "$(comm -13 <(cut -d' ' -f1 pts.prev) \
				<(cut -d' ' -f1 pts.cur))" = "$id" ]
			if ((!first_alert)) &&
				[ "$(jq -r '.alert != null' <<<"$output")" = true ]; then
				first_alert=$cyc
				echo "# first alert at cycle $cyc: $(jq -c .alert <<<"$output")" >&3
			fi
		elif ((status == 3)); then
			deferred=$((deferred + 1))
			((first_deferred)) || first_deferred=$cyc
			if ((deferred == 1)); then
				echo "# first deferred cycle $cyc: $stderr" >&3
				first_logged=$(head -n 1 alerts.log)
			fi
			json_true "$output" '.deferred and .alert.kind == "deferred"
				and .planner.verdict == "no_room" and
				(.error.message | startswith("r: no room for a point of d: ")) and
				(has("id") | not)'
			[[ ${#stderr_lines[@]} -eq 1 && $stderr =~ ^vhdrecover:\ r:\ no\ room\ for\ a\ point\ of\ d:\ .*cycle\ deferred ]] || {
				echo "cycle $cyc: deferred, stderr: $stderr"
				false
			}
			# nothing committed
			[ -z "$(comm -13 <(cut -d' ' -f1 pts.prev) \
				<(cut -d' ' -f1 pts.cur))" ]
		else
			echo "cycle $cyc (t=$t) exited $status: $stderr $output"
			false
		fi
		# no point went before its expiry
		while read -r id exp; do
			if [[ $exp == none ]] || ((exp > now_hi)); then
				echo "cycle $cyc (now <= $now_hi): point $id" \
					"(expires $exp) was deleted"
				false
			fi
		done < <(join -v1 pts.prev pts.cur)
		mv pts.cur pts.prev

		if ((cyc == 50)); then
			run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json r
			((status == 0 || status == 3))
			used50=$(jq .space.used <<<"$output")
		elif ((cyc == q_at)); then
			run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json r
			((status == 0 || status == 3))
			used_q=$(jq .space.used <<<"$output")
			quota=$((used_q + (used_q - used50) * 14 / 10))
			"$VHDRECOVER" repo quota r "$quota"
			run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json r
			echo "projection: $output"
			[ "$status" -eq 3 ] # full within a week: forecast
			json_true "$output" '.status == "warn" and
				(.verdict | startswith("ALERT:")) and
				.space.quota == $q and .days_until_full > 0' \
				--argjson q "$quota"
			t_proj=$t
			days=$(jq .days_until_full <<<"$output")
			proj_growth=$(jq .growth_bytes_per_day <<<"$output")
			proj_left=$(jq .space.left <<<"$output")
			echo "# cycle $cyc: used $used_q (cycle 50: $used50), quota $quota; growth $proj_growth B/day, left $proj_left: full in $days days" >&3
		fi
		if ((first_deferred && cyc >= 200 && cyc >= first_deferred + 5)); then
			break
		fi
	done
	actual=$(jq -n "($t0 + $first_deferred * 600 - $t_proj) / 86400")
	err_pct=$(jq -n "(($days - $actual) / $actual * 100) | . * 10 | round / 10")
	echo "# $cyc cycles: $committed committed, $deferred deferred (first at cycle $first_deferred), $forgotten points forgotten; first alert at cycle $first_alert; $(wc -l <alerts.log) alerts" >&3
	echo "# projected full in $days days, first deferral $actual days after the projection ($err_pct%); the growth from cycle 50 to $q_at would have said $(jq -n "$proj_left / (($used_q - $used50) / (($q_at - 50) * 600) * 86400) * 1000 | round / 1000") days" >&3
	sort alerts.log | cut -d' ' -f1 | uniq -c | sed 's/^/# alerts: /' >&3

	# (b) an alert before the first deferral, deferrals happened
	((first_deferred > q_at && cyc >= 200))
	((first_alert > 0 && first_alert < first_deferred))
	[[ -n $first_logged && $first_logged != deferred* ]]
	[ "$(grep -c '^deferred ' alerts.log)" -eq "$deferred" ]
	# "KIND DAYS": a forecast knows the days left (VR_DAYS_LEFT)
	[ "$(grep -cvE '^[a-z]+ ([0-9]+\.[0-9]{2})?$' alerts.log)" -eq 0 ]
	[ "$(grep -cvE '^forecast [0-9]+\.[0-9]{2}$' <(grep '^forecast' alerts.log))" -eq 0 ]
	grep -q '^forecast' alerts.log
	# retention kept the last 2 hours or so, forgot the rest
	((forgotten >= committed - 20))

	# (d) every point left is its disk as it was: the mirror is replayed
	# cycle by cycle from the data written, each remaining point restored
	# and compared when the replay reaches its cycle
	local -A want
	local op_cyc op_off op_file
	n=0
	for id in $(point_ids r); do
		[[ -n ${cycle_of[$id]:-} ]]
		want[${cycle_of[$id]}]=$id
		n=$((n + 1))
	done
	((n >= 12 && n <= 20))
	truncate -s $((128 * M)) m.raw
	c=1
	while read -r op_cyc op_off op_file; do
		while ((c < op_cyc)); do
			if [[ -n ${want[$c]:-} ]]; then
				"$VHDRECOVER" restore r "${want[$c]}" --to p.raw >/dev/null
				cmp p.raw m.raw
				rm p.raw
				unset "want[$c]"
			fi
			c=$((c + 1))
		done
		dd if="$op_file" of=m.raw bs=64K seek="$op_off" oflag=seek_bytes \
			conv=notrunc status=none
	done <ops
	for ((; c <= cyc; c++)); do
		if [[ -n ${want[$c]:-} ]]; then
			"$VHDRECOVER" restore r "${want[$c]}" --to p.raw >/dev/null
			cmp p.raw m.raw
			rm p.raw
			unset "want[$c]"
		fi
	done
	[ "${#want[@]}" -eq 0 ]
	echo "# $n points left, each restored exactly" >&3
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
	[ "$status" -eq 0 ]
	json_true "$output" '.clean and .missing_chunks == 0 and
		.bad_chunks == 0 and .damaged_manifests == 0 and
		.affected_points == []'

	# (c) the forecast made when the quota changed: within 25% of when
	# the repository was full (last, so that a miss leaves the rest
	# checked)
	json_true null '($d - $a | fabs) <= 0.25 * $a' \
		--argjson d "$days" --argjson a "$actual"
}

# kept_ids JSON: the ids a forget --json kept, sorted, on one line.
kept_ids()
{
	jq -r '[.decisions[] | select(.keep) | .id] | sort | join(" ")' <<<"$1"
}

@test "retention at the command line: forget --dry-run keeps what each rule set says; typos are refused with nothing changed; --force drops exactly what the rules say; disks are weighed apart" {
	local t0 day spec dsk hm cyc=0 id st before now4 now20 pre
	local -A sha pid
	t0=$(epoch '2026-03-02 00:00:00') # a Monday
	"$VHDRECOVER" repo init r
	for dsk in d e; do
		"$VHDRECOVER" create $dsk.vhdx --size 8M
	done
	# the timeline: DISK DAY HH:MM, oldest first; d5 is
	# application-consistent. Every point carries a 7-day expiry.
	for spec in d1:0:01:00 e1:0:05:00 d2:0:09:00 d3:0:17:00 d4:1:02:00 \
		e2:1:05:00 d5:1:10:00 d6:1:23:30 d7:2:08:00 e3:2:09:00 \
		d8:3:00:30 d9:3:12:00 e4:3:12:05 d10:3:12:10 d11:3:12:20; do
		IFS=: read -r id day hm <<<"$spec"
		dsk=${id:0:1}
		cyc=$((cyc + 1))
		# overwrites of 4 chunks: old points hold garbage
		head -c $CS /dev/urandom >x
		"$VHDRECOVER" write "$dsk.vhdx" $(((cyc % 4) * CS)) x >/dev/null
		pre=()
		[[ $id == d5 ]] && pre=(--pre true)
		run --separate-stderr at_time "$((t0 + day * 86400 + $(epoch "1970-01-01 $hm")))" \
			"$VHDRECOVER" replicate --json r "$dsk.vhdx" --keep-within 7d "${pre[@]}"
		[ "$status" -eq 0 ]
		json_true "$output" '.forgotten == 0'
		pid[$id]=$(jq -r .id <<<"$output")
		sha[${pid[$id]}]=$(disk_sha "$dsk.vhdx")
	done
	# (the clock runs on from the time given: seconds may differ)
	[[ ${pid[d11]} == d-20260305T1220* && ${pid[e1]} == e-20260302T0500* ]]
	now4=$((t0 + 4 * 86400))
	now20=$((t0 + 20 * 86400))
	before=$(repo_state r)

	# ids of the points named, as forget prints them, sorted
	ids() {
		local n
		for n in "$@"; do echo "${pid[$n]}"; done | sort | paste -sd' '
	}
	# dry runs when every expiry has passed: the kept sets
	dry() { # EXPECTED RULES...
		local want=$1
		shift
		run --separate-stderr at_time "$now20" "$VHDRECOVER" forget r \
			--dry-run --json "$@"
		echo "forget $*: $output $stderr"
		[ "$status" -eq 0 ]
		[ "$(kept_ids "$output")" = "$want" ]
		json_true "$output" '.dry_run and (.collected | not) and
			.forgotten == ([.decisions[] | select(.keep | not)] |
			length) and .points == (.decisions | length)'
	}
	dry "$(ids d5 d9 d10 d11)" --disk d --keep-last 3
	json_true "$output" '.points == 11 and all(.decisions[]; .disk == "d") and
		(.decisions[] | select(.id == $n) | .reasons) == "last,newest" and
		(.decisions[] | select(.id == $c) | .reasons) == "newest-consistent" and
		(.decisions[] | select(.id == $o) | .keep) == false' \
		--arg n "${pid[d11]}" --arg c "${pid[d5]}" --arg o "${pid[d1]}"
	dry "$(ids d5 d6 d7 d11)" --disk d --keep-daily 3
	dry "$(ids d5 d8 d9 d10 d11)" --disk d --keep-within 1d
	dry "$(ids d5 d8 d11)" --disk d --keep-hourly 2
	dry "$(ids d5 d7 d8 d9 d10 d11)" --disk d --keep-last 2 --keep-daily 2 \
		--keep-within 12h
	# every disk on its own: keep-last 1 keeps the newest of each
	dry "$(ids d5 d11 e4)" --keep-last 1
	dry "$(ids d5 d9 d10 d11 e2 e3 e4)" --keep-last 3
	# the text form
	run --separate-stderr at_time "$now20" "$VHDRECOVER" forget r --dry-run \
		--keep-last 1 --disk e
	[ "$status" -eq 0 ]
	printf '%s\n' "$output"
	grep -qE "^would forget ${pid[e1]} " <<<"$output"
	grep -qE "^keep +${pid[e4]} .*\(last,newest\)$" <<<"$output"
	[ "$(grep -c '^would forget ' <<<"$output")" -eq 3 ]
	[ "$(repo_state r)" = "$before" ]

	# typos: usage errors, nothing changed
	for spec in "" "--keep-last 0" "--keep-within 7" "--keep-lsat 5" \
		"--keep-last x" "--keep-daily -1" "--keep-within 1d ${pid[d1]}"; do
		# shellcheck disable=SC2086 # split into options
		run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r $spec
		echo "forget r $spec: $status $stderr"
		assert_usage_error
		[ -z "$output" ]
	done
	# rules that would drop unexpired points: refused, one line
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r --keep-within 6m
	assert_one_line_error "^vhdrecover: r: .*point d-[0-9]{8}T[0-9]{6}Z.*--force"
	[[ $stderr =~ (d-[0-9]{8}T[0-9]{6}Z) ]]
	# the point named is one the rule drops
	[[ " $(ids d1 d2 d3 d4 d6 d7 d8 d9 d10) " == *" ${BASH_REMATCH[1]} "* ]]
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r --json --keep-last 3
	[ "$status" -eq 1 ]
	json_true "$output" '.error.message | test("--force")'
	# by id: the newest point, an unexpired point, one that is not there
	run --separate-stderr at_time "$now20" "$VHDRECOVER" forget r "${pid[e4]}"
	assert_one_line_error "${pid[e4]}.*newest.*--force"
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r "${pid[d2]}"
	assert_one_line_error "${pid[d2]}.*expired.*--force"
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r d-20990101T000000Z
	assert_one_line_error "^vhdrecover: r: no point d-20990101T000000Z"
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r --keep-last 1 --disk nosuch
	assert_one_line_error "^vhdrecover: r: no points of disk nosuch$"
	[ "$(repo_state r)" = "$before" ]

	# --force: exactly what the rules say goes, and its garbage
	run --separate-stderr at_time "$now4" "$VHDRECOVER" forget r --json \
		--keep-last 3 --force
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	json_true "$output" '.forgotten == 8 and .collected and
		.gc.chunks_dropped > 0 and .gc.bytes_after < .gc.bytes_before and
		.warning == ""'
	[ "$(point_ids r | paste -sd' ')" = "$(ids d5 d9 d10 d11 e2 e3 e4)" ]
	for id in $(point_ids r); do
		"$VHDRECOVER" restore r "$id" --to out.raw >/dev/null
		[ "$(sha_of out.raw)" = "${sha[$id]}" ]
	done
	# once expired, no --force is needed: keep-last 1 of each disk
	run --separate-stderr at_time "$now20" "$VHDRECOVER" forget r --keep-last 1
	[ "$status" -eq 0 ]
	[ "$(point_ids r | paste -sd' ')" = "$(ids d5 d11 e4)" ]
	for id in $(point_ids r); do
		"$VHDRECOVER" restore r "$id" --to out.raw >/dev/null
		[ "$(sha_of out.raw)" = "${sha[$id]}" ]
	done
	run "$VHDRECOVER" repo check --read-data --json r
	[ "$status" -eq 0 ]
	json_true "$output" '.clean and .unindexed_packs == 0'
}

@test "crash safety: forget killed at 50+ random moments of its collection loses no point it keeps and damages nothing" {
	local t0 cyc off len n id k iter=0 kills=0 finished=0 st pid
	local dur us t1 t2 rem before=0 during=0 after=0
	local -A sha
	t0=$(epoch '2026-02-01 00:00:00')
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 8M
	# 40 points, each cycle rewriting 3 random runs of 1..6 chunks of
	# 128: a pack per cycle, whose chunks later cycles partly replace, so
	# forgetting old points leaves packs of only garbage (deleted) and
	# packs partly garbage (rewritten)
	for cyc in $(seq 40); do
		for _ in 1 2 3; do
			len=$((RANDOM % 6 + 1))
			off=$((RANDOM % (128 - len)))
			head -c $((len * CS)) /dev/urandom >x
			"$VHDRECOVER" write d.vhdx $((off * CS)) x >/dev/null
		done
		id=$(at_time $((t0 + cyc * 60)) "$VHDRECOVER" replicate --json r \
			d.vhdx | jq -r .id)
		sha[$id]=$(disk_sha d.vhdx)
	done
	point_ids r >all
	[ "$(wc -l <all)" -eq 40 ]
	cp -a r r0

	# unkilled forgets, to see one delete and rewrite packs and to time
	# them as the loop runs them: the kill delay is drawn uniformly within
	# the quickest
	run --separate-stderr "$VHDRECOVER" forget --json r --keep-last 4
	[ "$status" -eq 0 ]
	json_true "$output" '.forgotten == 36 and .collected and
		.gc.packs_deleted > 0 and .gc.packs_rewritten > 0 and
		.gc.chunks_moved > 0'
	echo "# forget --keep-last 4: $(jq -c .gc <<<"$output")" >&3
	for n in 1 2 3 4 5; do
		rm -rf r
		cp -a r0 r
		t1=$(date +%s%N)
		"$VHDRECOVER" forget r --keep-last $((n + 1)) >/dev/null &
		wait $!
		t2=$(date +%s%N)
		echo $(((t2 - t1) / 1000)) >>durations
	done
	dur=$(sort -n durations | head -n 1)

	while (((kills < 50 || during < 25) && iter < 300)); do
		iter=$((iter + 1))
		rm -rf r
		cp -a r0 r
		k=$((RANDOM % 8 + 1))
		us=$(((RANDOM * 32768 + RANDOM) % dur))
		# (stderr quiet: bash reports killed jobs there)
		{
			"$VHDRECOVER" forget r --keep-last $k >/dev/null \
				2>forget.err 3>&- &
			pid=$!
			sleep "$((us / 1000000)).$(printf %06d $((us % 1000000)))"
			kill -9 "$pid" || true
			st=0
			wait "$pid" || st=$?
		} 2>/dev/null
		if ((st == 137)); then
			kills=$((kills + 1))
		elif ((st == 0)); then
			finished=$((finished + 1))
		else
			echo "iteration $iter: forget exited $st: $(cat forget.err)"
			false
		fi
		run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
		if [[ $status -ne 0 ]] || ! json_true "$output" \
			'.missing_chunks == 0 and .bad_chunks == 0 and
			.damaged_manifests == 0 and .affected_points == []'; then
			echo "iteration $iter (keep-last $k, killed after $us us): $output $stderr"
			false
		fi
		# what is left: the points of before, among them the k newest
		point_ids r >left
		[ -z "$(comm -13 all left)" ]
		[ -z "$(comm -23 <(tail -n $k all) left)" ]
		rem=$(wc -l <left)
		((st == 137 || rem == k))
		while read -r id; do
			"$VHDRECOVER" restore r "$id" --to out.raw >/dev/null
			if [[ $(sha_of out.raw) != "${sha[$id]}" ]]; then
				echo "iteration $iter (keep-last $k, killed after $us us): point $id is not its disk"
				false
			fi
		done <left
		((st == 137)) || continue
		# where the kill landed: before any manifest went, in the
		# collection (repo gc finds work left), or after it; and gc
		# finishes what the kill interrupted
		run --separate-stderr "$VHDRECOVER" repo gc r
		[ "$status" -eq 0 ]
		[[ $output =~ :\ ([0-9]+)\ packs\ deleted,\ ([0-9]+)\ rewritten,\ ([0-9]+)\ chunks\ dropped,\ ([0-9]+)\ leftovers ]]
		if ((rem == 40)); then
			before=$((before + 1))
		elif ((BASH_REMATCH[1] + BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[4] == 0)); then
			after=$((after + 1))
		else
			during=$((during + 1))
		fi
		run --separate-stderr "$VHDRECOVER" repo check --json r
		[ "$status" -eq 0 ]
		json_true "$output" '.clean and .unindexed_packs == 0'
	done
	echo "# $kills of $kills kills survived ($iter forgets, $finished finished first; quickest unkilled $dur us): $before before a manifest went, $during during the collection, $after after it" >&3
	((kills >= 50))
	((during >= 25))
	# the last repository: gc clears what a kill left, forget finishes
	run --separate-stderr "$VHDRECOVER" repo gc r
	[ "$status" -eq 0 ]
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
	[ "$status" -eq 0 ]
	json_true "$output" '.clean and .unindexed_packs == 0 and
		.problems == []'
	run --separate-stderr "$VHDRECOVER" forget r --keep-last "$k"
	[ "$status" -eq 0 ]
	[ "$(point_ids r)" = "$(tail -n "$k" all)" ]
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json r
	json_true "$output" '.clean and .unindexed_packs == 0'
}

@test "a real full file system: cycles into a 24 MiB tmpfs until one does not fit; it fails or defers with one line, nothing half-made, every point intact; forget --force makes room again" {
	local cyc id n
	local -A sum
	local -a ids=()
	mkdir small
	mount -t tmpfs -o size=24m tmpfs small
	VR_MOUNTS+=("$VR_WORK/small")
	"$VHDRECOVER" repo init small/r
	head -c $((4 * M)) /dev/urandom >small/filler
	"$VHDRECOVER" create d.vhdx --size 64M --block-size 1M
	# 3 MiB of fresh data a cycle, in two places taken in turn: each
	# point replaces the one before last's data, which is garbage once
	# that point goes. Points expire in a day: only --force drops them.
	for cyc in $(seq 20); do
		head -c $((3 * M)) /dev/urandom >w
		"$VHDRECOVER" write d.vhdx $(((cyc % 2) * 16 * M)) w >/dev/null
		point_ids small/r >before 2>/dev/null
		run --separate-stderr "$VHDRECOVER" replicate --json small/r \
			d.vhdx --keep-within 1d --alert true
		((status == 0)) || break
		id=$(jq -r .id <<<"$output")
		ids+=("$id")
		sum[$id]=$(disk_sha d.vhdx)
	done
	echo "# cycle $cyc of 3 MiB into 24 MiB: exit $status: $stderr" >&3
	echo "$output"
	((${#ids[@]} >= 3))
	# failed (1) or deferred (3), said in one line naming the repository
	((status == 1 || status == 3))
	[[ ${#stderr_lines[@]} -eq 1 && $stderr == "vhdrecover: small/r"* ]]
	json_true "$output" '(has("id") | not) and (.error.message |
		startswith("small/r"))'
	# no point half-made: the points of before, and only point files
	[ "$(point_ids small/r)" = "$(cat before)" ]
	[ -z "$(find small/r/points -type f ! -name '*.point')" ]
	for id in "${ids[@]}"; do
		"$VHDRECOVER" restore small/r "$id" --to out.raw >/dev/null
		[ "$(sha_of out.raw)" = "${sum[$id]}" ]
	done
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json small/r
	echo "$output"
	[ "$status" -eq 0 ]
	json_true "$output" '.missing_chunks == 0 and .bad_chunks == 0 and
		.damaged_manifests == 0 and .affected_points == []'

	# the points have not expired: forget needs --force to make room
	run --separate-stderr "$VHDRECOVER" forget small/r --keep-last 2
	assert_one_line_error '^vhdrecover: small/r: .*--force'
	n=${#ids[@]}
	run --separate-stderr "$VHDRECOVER" forget --json small/r --keep-last 2 --force
	[ "$status" -eq 0 ]
	json_true "$output" '.forgotten == $n - 2 and .collected and
		.gc.bytes_after < .gc.bytes_before' --argjson n "$n"
	run --separate-stderr "$VHDRECOVER" replicate --json small/r d.vhdx \
		--keep-within 1d
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	id=$(jq -r .id <<<"$output")
	sum[$id]=$(disk_sha d.vhdx)
	"$VHDRECOVER" restore small/r latest --to out.raw >/dev/null
	[ "$(sha_of out.raw)" = "${sum[$id]}" ]
	for id in "${ids[@]:n-2}"; do
		"$VHDRECOVER" restore small/r "$id" --to out.raw >/dev/null
		[ "$(sha_of out.raw)" = "${sum[$id]}" ]
	done
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json small/r
	[ "$status" -eq 0 ]
	json_true "$output" '.missing_chunks == 0 and .bad_chunks == 0 and
		.damaged_manifests == 0 and .affected_points == []'

	# now fool the planner: points of data that compresses 100 to 1
	# make it expect little of the next, which is 16 MiB of noise: it
	# fits at the recent ratio (tight) but not on the file system, and
	# the store itself runs out of room
	yes "$(head -c 3000 /dev/urandom | base64 -w0)" | head -c $((2 * M)) >z
	for cyc in $(seq 14); do
		"$VHDRECOVER" write d.vhdx $((32 * M + (cyc % 2) * 2 * M)) z >/dev/null
		run --separate-stderr "$VHDRECOVER" replicate --json small/r d.vhdx
		[ "$status" -eq 0 ]
		json_true "$output" '.bytes_new < 200000'
		id=$(jq -r .id <<<"$output")
		ids+=("$id")
		sum[$id]=$(disk_sha d.vhdx)
	done
	head -c $((16 * M)) /dev/urandom >w
	"$VHDRECOVER" write d.vhdx $((40 * M)) w >/dev/null
	point_ids small/r >before
	run --separate-stderr "$VHDRECOVER" replicate --json small/r d.vhdx
	echo "# 16 MiB of noise after compressible points: exit $status: $stderr" >&3
	echo "$output"
	((status == 1 || status == 3))
	[[ ${#stderr_lines[@]} -eq 1 && $stderr == "vhdrecover: small/r"* ]]
	json_true "$output" '(has("id") | not) and (.error.message |
		startswith("small/r")) and .planner.verdict == "tight"'
	[ "$(point_ids small/r)" = "$(cat before)" ]
	[ -z "$(find small/r/points -type f ! -name '*.point')" ]
	while read -r id; do
		"$VHDRECOVER" restore small/r "$id" --to out.raw >/dev/null
		[ "$(sha_of out.raw)" = "${sum[$id]}" ]
	done <before
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json small/r
	echo "$output"
	[ "$status" -eq 0 ]
	json_true "$output" '.missing_chunks == 0 and .bad_chunks == 0 and
		.damaged_manifests == 0 and .affected_points == [] and
		.unindexed_packs == 0'
	# room again (the filler goes, the file system grows): the next cycle
	# stores what the failed one did not
	rm small/filler
	mount -o remount,size=64m small
	run --separate-stderr "$VHDRECOVER" replicate --json small/r d.vhdx
	[ "$status" -eq 0 ]
	"$VHDRECOVER" restore small/r latest --to out.raw >/dev/null
	[ "$(sha_of out.raw)" = "$(disk_sha d.vhdx)" ]
	run --separate-stderr "$VHDRECOVER" repo check --read-data --json small/r
	[ "$status" -eq 0 ]
	json_true "$output" '.missing_chunks == 0 and .bad_chunks == 0 and
		.damaged_manifests == 0 and .affected_points == []'
}

# schema_valid JSON: JSON is valid under docs/plan-schema.json (JSON
# Schema draft-07, checked by python3-jsonschema).
schema_valid()
{
	python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
errors = list(jsonschema.Draft7Validator(schema).iter_errors(json.load(sys.stdin)))
for e in errors:
    print("schema: %s: %s" % ("/".join(map(str, e.absolute_path)), e.message))
sys.exit(1 if errors else 0)' "$TOP_SRCDIR/docs/plan-schema.json" <<<"$1"
}

@test "plan: --json follows docs/plan-schema.json (empty, three disks under a quota, a policy, alerts); the text names each disk and ends with the verdict; a missed RPO alerts" {
	local t0 t cyc dsk n=0 used json kind days
	t0=$(epoch '2026-04-01 00:00:00')
	"$VHDRECOVER" repo init r
	run --separate-stderr at_time "$t0" "$VHDRECOVER" plan --json r
	[ "$status" -eq 0 ]
	schema_valid "$output"
	json_true "$output" '.points == 0 and .disks == [] and
		.status == "ok" and (.verdict | startswith("OK:")) and
		.days_until_full == null and .space.quota == null and
		.growth_bytes_per_day == 0 and .time == "2026-04-01T00:00:00Z"'
	# the validator is not blind
	json=$output
	run ! schema_valid "$(jq -c 'del(.space)' <<<"$json")"
	[[ $output == *"'space' is a required property"* ]]
	run ! schema_valid "$(jq -c '.status = "fine"' <<<"$json")"
	[[ $output == *"status: 'fine' is not one of"* ]]
	run ! schema_valid "$(jq -c '.disks = [{"name": "x"}]' <<<"$json")"
	[[ $output == *"disks/0: 'points' is a required property"* ]]

	# three disks, a cycle of each every 10 minutes for 80 minutes (the
	# planner sees growth in an hour of points at least), 256 KiB of noise
	for dsk in a b c; do
		"$VHDRECOVER" create $dsk.vhdx --size 16M
	done
	for cyc in $(seq 8); do
		for dsk in a b c; do
			head -c $((256 * K)) /dev/urandom >x
			"$VHDRECOVER" write $dsk.vhdx $((cyc * 256 * K)) x >/dev/null
			run --separate-stderr at_time $((t0 + cyc * 600 + n % 3 * 10)) \
				"$VHDRECOVER" replicate r $dsk.vhdx
			[ "$status" -eq 0 ]
			n=$((n + 1))
		done
	done
	"$VHDRECOVER" repo quota r 10G
	t=$((t0 + 8 * 600 + 120)) # two minutes after a's newest point
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json r
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	schema_valid "$output"
	json=$output
	json_true "$json" '.status == "ok" and .points == 24 and
		([.disks[].name] == ["a", "b", "c"]) and
		.space.quota == 10737418240 and
		.space.left == .space.quota - .space.used and
		.growth_bytes_per_day > 0 and .days_until_full > 7 and
		all(.disks[]; .points == 8 and
			(.interval_seconds - 600 | fabs) < 2 and
			.rpo_seconds == null and .rpo_met and
			.next_point_bytes > 200000 and .next_point_bytes < 400000 and
			.retention_window_seconds == null) and
		.disks[0].age_seconds >= 120 and .disks[0].age_seconds < 180'
	# the text: a line per disk, the verdict last
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan r
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "$(jq -r .verdict <<<"$json")" ]
	for dsk in a b c; do
		grep -qE "^$dsk +8 +2026-04-01T01:20:[0-9]{2}Z " <<<"$output"
	done

	# a policy: its RPO and retention in the report, no alert
	cat >p.yaml <<'YAML'
version: 1
name: plan-test
rpo: 1h
retention: { keep_last: 10, keep_within: 1d }
alert: 'echo "$VR_ALERT ${VR_DISK_NAME:--} $VR_DAYS_LEFT" >>policy-alerts.log'
YAML
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json --policy p.yaml r
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	schema_valid "$output"
	json_true "$output" '.status == "ok" and
		all(.disks[]; .rpo_seconds == 3600 and .rpo_met and
			.retention_window_seconds == 86400 and
			.retention_need_bytes > 0) and
		.retention_need_bytes == ([.disks[].retention_need_bytes] | add)'
	[ ! -e policy-alerts.log ]

	# alert states: full within the warning days; the next point not
	# fitting at all. Exit 3, and the policy's alert command runs.
	used=$(jq .space.used <<<"$json")
	"$VHDRECOVER" repo quota r $((used + 20 * M))
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json --policy p.yaml r
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	schema_valid "$output"
	json_true "$output" '.status == "warn" and
		(.verdict | startswith("ALERT: full in")) and
		.days_until_full > 0 and .days_until_full < 7'
	# VR_DAYS_LEFT is the days until full (to 2 decimals)
	read -r kind dsk days <policy-alerts.log
	[[ $kind == forecast && $dsk == - && $days =~ ^[0-9]+\.[0-9]{2}$ ]]
	json_true "$output" '(.days_until_full - $d | fabs) <= 0.006' \
		--argjson d "$days"
	"$VHDRECOVER" repo quota r $((used + 100 * K))
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan --json --policy p.yaml r
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	schema_valid "$output"
	json_true "$output" '.status == "full" and
		(.verdict | startswith("ALERT:")) and
		any(.disks[]; .next_point_bytes > $left)' \
		--argjson left "$(jq .space.left <<<"$output")"
	[ "$(tail -n 1 policy-alerts.log | cut -d' ' -f1)" = full ]
	run --separate-stderr at_time "$t" "$VHDRECOVER" plan --policy p.yaml r
	[ "$status" -eq 3 ]
	[[ ${lines[-1]} == "ALERT: "* ]]

	# RPO: met half an hour after the newest points, missed two hours
	# after them
	"$VHDRECOVER" repo quota r none
	rm -f policy-alerts.log
	run --separate-stderr at_time $((t + 1800)) "$VHDRECOVER" plan --json \
		--policy p.yaml r
	[ "$status" -eq 0 ]
	json_true "$output" 'all(.disks[]; .rpo_met)'
	[ ! -e policy-alerts.log ]
	run --separate-stderr at_time $((t + 7200)) "$VHDRECOVER" plan --json \
		--policy p.yaml r
	echo "$output $stderr"
	[ "$status" -eq 3 ]
	schema_valid "$output"
	json_true "$output" '.status == "warn" and
		all(.disks[]; .rpo_met == false and .rpo_seconds == 3600 and
			.age_seconds > 3600) and (.verdict | test("RPO"))'
	[ "$(cut -d' ' -f1 policy-alerts.log)" = rpo ]
	# --rpo on the command line, one disk: VR_DISK_NAME names it
	run --separate-stderr at_time $((t + 7200)) "$VHDRECOVER" plan --json \
		--rpo 90m --disk b --alert 'echo "$VR_ALERT $VR_DISK_NAME" >>b.log' r
	[ "$status" -eq 3 ]
	schema_valid "$output"
	json_true "$output" '[.disks[].name] == ["b"] and
		.disks[0].rpo_seconds == 5400 and .disks[0].rpo_met == false'
	[ "$(cat b.log)" = "rpo b" ]
}

@test "forget with a damaged manifest in the repository forgets as asked but collects nothing, and says why in one warning" {
	local p
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" create d.vhdx --size 16M
	for p in 1 2 3; do
		head -c $((1 * M)) /dev/urandom >w
		"$VHDRECOVER" write d.vhdx 0 w
		"$VHDRECOVER" replicate r d.vhdx >/dev/null
		"$VHDRECOVER" replicate r d.vhdx --name other >/dev/null
	done
	# one point of the other disk damaged: what it names is unknown
	p=$(point_ids r | grep '^other-' | head -n 1)
	truncate -s 300 "r/points/$p.point"
	find r/packs -type f | sort >packs.before
	run --separate-stderr "$VHDRECOVER" forget r --disk d --keep-last 1
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$(point_ids r | grep -c '^d-')" -eq 1 ]
	[[ $stderr == "vhdrecover: warning: garbage not collected: "*"$p"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$(find r/packs -type f | sort)" = "$(cat packs.before)" ]
	run --separate-stderr "$VHDRECOVER" repo gc r
	assert_one_line_error "^vhdrecover: r: garbage not collected: .*$p"
}

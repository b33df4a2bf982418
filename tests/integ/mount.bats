#!/usr/bin/env bats
# mount.bats - vhdrecover mount: a repository as a read-only FUSE tree
# (points/<id>/disk.raw, volumes/, apps/, bases/<name>/disk.raw, latest),
# read with real tools: cmp against restore's output and the base, the
# guest trees against the source trees and restore --policy, the disk's
# partitions through ntfs-3g and debugfs, writes refused, a point
# committed while mounted appears, SIGTERM and fusermount3 -u unmount
# cleanly.

# shellcheck disable=SC2154 # status, output, stderr: set by bats' run
load helpers
load site

setup()
{
	vr_setup
	MNT=$VR_WORK/mnt
	mkdir "$MNT"
	# the default place of saved walks, inside the test's directory
	export XDG_CACHE_HOME=$VR_WORK/cache
}

teardown()
{
	exec 8<&-
	[ -d p1 ] && mountpoint -q p1 && umount p1
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT" || umount -l "$MNT"
	fi
	[ -n "${MOUNT_PID:-}" ] && kill "$MOUNT_PID" 2>/dev/null
	vr_teardown
}

# mounted: wait (up to 10 s) until MNT is mounted.
mounted()
{
	local i
	for i in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		sleep 0.1
	done
	echo "not mounted after 10 s" >&2
	return 1
}

# stop_mount: SIGTERM to the foreground mount, which must end cleanly
# (its exit status: leaks, under the sanitizers).
stop_mount()
{
	kill -TERM "$MOUNT_PID"
	wait "$MOUNT_PID" || { cat mount.log; false; }
	MOUNT_PID=
}

# mount_and_list OUT [OPTION...]: mount r in the foreground (stderr to
# mount.log) and list both volumes of point $id into OUT.
mount_and_list()
{
	local out=$1
	shift
	"$VHDRECOVER" mount r "$MNT" --foreground "$@" 2>mount.log &
	MOUNT_PID=$!
	mounted
	tree_of "$MNT/points/$id/volumes/2-linux" >"$out"
	tree_of "$MNT/points/$id/volumes/1-win" >>"$out"
}

# site: base gold (qemu-io data), child vm over it, two points of vm.
site()
{
	"$VHDRECOVER" create base.vhdx --size 32M --block-size 1M
	qemu-io -c 'write -P 0xab 1M 3M' -c 'write -P 0x11 20M 1M' base.vhdx >/dev/null
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" base add r base.vhdx --name gold
	"$VHDRECOVER" create vm.vhdx --parent base.vhdx
	head -c 2M /dev/urandom >more.data
	"$VHDRECOVER" write vm.vhdx 8M more.data
	"$VHDRECOVER" replicate r vm.vhdx
}

@test "mount shows each point and base as disk.raw, byte for byte, read-only; a new point appears; SIGTERM unmounts" {
	site
	"$VHDRECOVER" mount r "$MNT" --foreground 2>mount.log &
	MOUNT_PID=$!
	mounted
	[ "$(ls "$MNT")" = $'bases\nlatest\npoints' ]
	first=$("$VHDRECOVER" points --json r | jq -r '.[0].id')
	[ "$(ls "$MNT/points")" = "$first" ]
	[ "$(readlink "$MNT/latest")" = "points/$first" ]
	"$VHDRECOVER" restore r "$first" --to first.raw
	cmp "$MNT/points/$first/disk.raw" first.raw
	[ "$(stat -c %s "$MNT/points/$first/disk.raw")" = $((32 * 1024 * 1024)) ]
	"$VHDRECOVER" convert base.vhdx base.raw
	cmp "$MNT/bases/gold/disk.raw" base.raw
	# a reader that seeks: qemu-img reads the raw disk through the mount
	qemu-img compare -f raw -F raw "$MNT/points/$first/disk.raw" first.raw

	# read-only everywhere
	run sh -c "echo x >'$MNT/points/$first/disk.raw'"
	[ "$status" -ne 0 ] && [[ $output == *"Read-only file system"* ]]
	run touch "$MNT/new"
	[ "$status" -ne 0 ] && [[ $output == *"Read-only file system"* ]]
	run mkdir "$MNT/points/x"
	[ "$status" -ne 0 ]
	[ ! -e "$MNT/points/nosuch/disk.raw" ]

	# a cycle commits a point while mounted: it shows, latest follows
	"$VHDRECOVER" write vm.vhdx 12M more.data
	"$VHDRECOVER" replicate r vm.vhdx
	second=$("$VHDRECOVER" points --json r | jq -r '.[1].id')
	sleep 1.5
	[ "$(ls "$MNT/points" | wc -l)" -eq 2 ]
	[ "$(readlink "$MNT/latest")" = "points/$second" ]
	"$VHDRECOVER" restore r "$second" --to second.raw
	cmp "$MNT/latest/disk.raw" second.raw

	# SIGTERM: the process ends, nothing stays mounted; a file still
	# open then is closed by the mount itself (no release comes)
	exec 8<"$MNT/latest/disk.raw"
	stop_mount
	exec 8<&-
	! mountpoint -q "$MNT"
	! grep -q " $MNT " /proc/mounts
}

@test "mount detaches; fusermount3 -u unmounts; bad arguments give one line" {
	site
	run --separate-stderr "$VHDRECOVER" mount r "$MNT"
	[ "$status" -eq 0 ]
	mounted
	[ -n "$(ls "$MNT/points")" ]
	fusermount3 -u "$MNT"
	! mountpoint -q "$MNT"

	run --separate-stderr "$VHDRECOVER" mount nosuch "$MNT"
	assert_one_line_error 'nosuch'
	run --separate-stderr "$VHDRECOVER" mount r nosuch-dir
	assert_one_line_error 'nosuch-dir: No such file or directory'
	run --separate-stderr "$VHDRECOVER" mount r more.data
	assert_one_line_error 'more.data: not a directory to mount on'
	run --separate-stderr "$VHDRECOVER" mount r
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" mount -o rw r "$MNT"
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" mount --release-after 5x r "$MNT"
	assert_usage_error
	run --separate-stderr "$VHDRECOVER" mount --cache-size 10K r "$MNT"
	assert_usage_error
	! mountpoint -q "$MNT"
}

@test "mount --policy: a point's volumes and applications as directories, as the guest has them; disk.raw partitions open with ntfs-3g and debugfs" {
	make_site
	"$VHDRECOVER" restore r child:latest --policy p.yaml --to want-apps
	# in the foreground, so that its exit status (leaks, under the
	# sanitizers) is seen
	"$VHDRECOVER" mount r "$MNT" --policy p.yaml --foreground 2>mount.log &
	MOUNT_PID=$!
	mounted
	id=$("$VHDRECOVER" points --json r | jq -r '.[-1].id')
	[ "$(ls "$MNT/points/$id")" = $'apps\ndisk.raw\nvolumes' ]
	[ "$(ls "$MNT/points/$id/volumes")" = $'1-win\n2-linux' ]
	[ "$(ls "$MNT/points/$id/apps")" = $'shopdb\nweb' ]
	# each application as restore gives it; each volume as the guest has it
	for app in shopdb web; do
		diff -r "$MNT/points/$id/apps/$app" "want-apps/$app"
		diff <(tree_of "$MNT/points/$id/apps/$app" | grep -v '^d') \
			<(tree_of "want-apps/$app" | grep -v '^d')
	done
	diff <(tree_of "$MNT/points/$id/volumes/2-linux/srv") \
		<(tree_of want/ext/srv)
	# (want/ has the excluded scratch file removed; the volume has all)
	diff <(files_of "$MNT/points/$id/volumes/1-win/Apps" | grep -v scratch.tmp) \
		<(files_of want/ntfs/Apps)
	[ "$(readlink "$MNT/points/$id/volumes/2-linux/srv/www/abs-link")" = /etc/passwd ]
	# the whole disk through the mount: its partitions open with the
	# file systems' own tools
	dd if="$MNT/points/$id/disk.raw" of=p1.img bs=1M skip=$((NTFS_START / M)) \
		count=$((NTFS_SIZE / M)) status=none
	dd if="$MNT/points/$id/disk.raw" of=p2.img bs=1M skip=$((EXT_START / M)) \
		count=$((EXT_SIZE / M)) status=none
	mkdir -p p1
	ntfs-3g -o ro p1.img p1
	cmp p1/Apps/ShopDB/data/shop.mdf want/ntfs/Apps/ShopDB/data/shop.mdf
	umount p1
	debugfs -R "cat /srv/www/new.html" p2.img 2>/dev/null | cmp - want/ext/srv/www/new.html
	e2fsck -fn p2.img
	# writes refused in the guest trees too
	run touch "$MNT/points/$id/volumes/2-linux/srv/x"
	[ "$status" -ne 0 ] && [[ $output == *"Read-only file system"* ]]
	stop_mount
	! mountpoint -q "$MNT"
}

@test "mount: a file system on a disk without a partition table is volume 0" {
	mkdir t
	echo hello >t/f
	truncate -s 16M d.raw
	mke2fs -q -F -t ext4 -L whole -d t d.raw
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" replicate r d.raw --name d
	"$VHDRECOVER" mount r "$MNT" --foreground 2>mount.log &
	MOUNT_PID=$!
	mounted
	[ "$(ls "$MNT/latest/volumes")" = 0-whole ]
	[ "$(cat "$MNT/latest/volumes/0-whole/f")" = hello ]
	stop_mount
}

@test "mount: 8 readers of different files for 30 s through a small cache read the right bytes" {
	make_site
	# 4 MiB of cache for 8 readers: chunks are evicted and fetched again
	# all the time, readahead competes with reads
	"$VHDRECOVER" mount r "$MNT" --policy p.yaml --cache-size 4M \
		--foreground 2>mount.log &
	MOUNT_PID=$!
	mounted
	local p="$MNT/latest" w=volumes/1-win l=volumes/2-linux
	local files=(
		"$p/disk.raw" disk2.raw
		"$MNT/bases/gold/disk.raw" disk.raw
		"$p/$w/Windows/System32/big.dll" ntree/Windows/System32/big.dll
		"$p/$w/Users/admin/video.mp4" ntree/Users/admin/video.mp4
		"$p/apps/shopdb/Apps/ShopDB/data/shop.mdf" want/ntfs/Apps/ShopDB/data/shop.mdf
		"$p/$w/Apps/ShopDB/data/shop_log.ldf" want/ntfs/Apps/ShopDB/data/shop_log.ldf
		"$p/$l/var/log/big.log" etree/var/log/big.log
		"$p/apps/web/srv/www/index.html" want/ext/srv/www/index.html
	)
	local i end=$((SECONDS + 30))
	for ((i = 0; i < ${#files[@]}; i += 2)); do
		(
			want=$(sha256sum <"${files[i + 1]}" | cut -c1-64)
			n=0
			while ((SECONDS < end)); do
				# nocache: the next pass reads through the mount
				# again, not from the page cache
				got=$(dd if="${files[i]}" bs=128K iflag=nocache \
					status=none | sha256sum | cut -c1-64)
				[ "$got" = "$want" ] || {
					echo "${files[i]}: pass $n: $got" >>bad
					exit 1
				}
				n=$((n + 1))
			done
			echo "$n ${files[i]}" >>passes
		) &
	done
	wait_children=0
	for ((i = 0; i < ${#files[@]}; i += 2)); do
		wait -n || wait_children=1
	done
	[ ! -e bad ] || { cat bad mount.log; false; }
	[ "$wait_children" = 0 ]
	# every reader made passes (the mount starved none of them)
	[ "$(wc -l <passes)" -eq 8 ]
	awk '$1 < 2 { print "too few passes: " $0; bad = 1 } END { exit bad }' passes
	[ ! -s mount.log ] || { cat mount.log; false; }
	stop_mount
}

@test "mount: a point forgotten while one of its files is open keeps serving it; collection waits until no file is open" {
	site
	head -c 2M /dev/urandom >other.data
	"$VHDRECOVER" write vm.vhdx 8M other.data
	"$VHDRECOVER" replicate r vm.vhdx
	first=$("$VHDRECOVER" points --json r | jq -r '.[0].id')
	second=$("$VHDRECOVER" points --json r | jq -r '.[1].id')
	"$VHDRECOVER" restore r "$first" --to first.raw
	"$VHDRECOVER" restore r "$second" --to second.raw
	"$VHDRECOVER" mount r "$MNT" --foreground --cache-size 1M \
		--release-after 1s 2>mount.log &
	MOUNT_PID=$!
	mounted
	exec 8<"$MNT/points/$first/disk.raw"
	# held longer than --release-after: an open file keeps the hold
	sleep 2.5
	run --separate-stderr "$VHDRECOVER" forget r "$first" --force --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.forgotten' <<<"$output")" = 1 ]
	[ "$(jq -r '.collected' <<<"$output")" = false ]
	[[ $(jq -r '.warning' <<<"$output") == *"being read"* ]]
	[ ! -e "r/points/$first.point" ]
	sleep 1.5
	[ "$(ls "$MNT/points" | wc -l)" -eq 1 ]
	[ ! -e "$MNT/points/$first/disk.raw" ]
	# the open file still reads whole: its chunks were not collected
	cmp - first.raw <&8
	stat -L -c %s /dev/fd/8 >/dev/null # fstat: the file's own stat
	exec 8<&-
	# no file open for --release-after: let go, so the collection runs
	# while still mounted
	sleep 2.5
	run --separate-stderr "$VHDRECOVER" repo gc r
	[ "$status" -eq 0 ]
	[[ $output != *"being read"* ]]
	[[ $output == *"1 pack"* ]] || { echo "$output"; false; }
	"$VHDRECOVER" repo check r --read-data
	# and the mount takes the repository again at the next look
	[ "$(ls "$MNT/points")" = "$second" ]
	cmp "$MNT/points/$second/disk.raw" second.raw
	stop_mount
	[ ! -s mount.log ]
}

@test "mount: a volume's walk is saved and used by the next mount; a damaged one is walked again; --tree-cache none keeps nothing" {
	make_site
	local id
	id=$("$VHDRECOVER" points --json r | jq -r '.[-1].id')
	mount_and_list first.lst
	# one saved walk per volume, in the default place
	local saved=$VR_WORK/cache/vhdrecover/trees
	[ "$(ls "$saved" | wc -l)" -eq 2 ]
	stop_mount
	# the harness of the walks' parser replays them (and the fuzzer's
	# promises hold for what they hold)
	"$TOP_BUILDDIR/tests/fuzz/replay_treecache" "$saved"/*.tree

	# the next mount lists the same from the saved walks, which it marks
	# as used, and saves nothing new
	touch -d @1000000000 "$saved"/*.tree
	mount_and_list second.lst --tree-cache "$saved"
	diff first.lst second.lst
	[ "$(ls "$saved" | wc -l)" -eq 2 ]
	[ -z "$(find "$saved" -name '*.tree' ! -newermt @1000000001)" ]
	# files still read from the point, by file number
	cmp "$MNT/points/$id/volumes/2-linux/srv/www/new.html" want/ext/srv/www/new.html
	stop_mount
	[ ! -s mount.log ]

	# a damaged walk is said, walked again and saved anew
	local one
	one=$(ls "$saved"/*.tree | head -1)
	cp "$one" good.tree
	printf 'X' | dd of="$one" bs=1 seek=100 conv=notrunc status=none
	run "$TOP_BUILDDIR/tests/fuzz/replay_treecache" "$one"
	[ "$status" -eq 0 ] # refused inside, as the harness expects
	mount_and_list third.lst --tree-cache "$saved"
	diff first.lst third.lst
	grep -q "damaged" mount.log
	cmp "$one" good.tree
	stop_mount

	# none: nothing kept; a directory that cannot be made: one line
	rm -r "$VR_WORK/cache"
	"$VHDRECOVER" mount r "$MNT" --tree-cache none
	mounted
	ls "$MNT/points/$id/volumes/2-linux" >/dev/null
	fusermount3 -u "$MNT"
	[ ! -e "$VR_WORK/cache" ]
	run --separate-stderr "$VHDRECOVER" mount r "$MNT" --tree-cache p.yaml/x
	assert_one_line_error 'p.yaml/x: Not a directory'
}

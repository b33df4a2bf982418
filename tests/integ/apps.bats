#!/usr/bin/env bats
# apps.bats - scoped restore on the image a site really has: a GPT disk
# with an NTFS partition (mkntfs, files put in through ntfs-3g) and an
# ext4 partition (mke2fs -d), made into a preloaded base; a differencing
# disk over it that the "applications" changed; the child replicated.
# The policy's applications come back exactly (content hashes, sizes,
# times, modes, symlinks, hard links), as a directory and as tar, tar.zst
# and zip archives that bsdtar lists and extracts to the same tree; with
# --only-changed-vs-base exactly the files the child changed; and a
# scoped restore reads from the repository no more than 1.5 times the
# application's data plus the file system's metadata.

# shellcheck disable=SC2154 # status, output, stderr: set by bats' run
load helpers
load site

setup()
{
	vr_setup
}

teardown()
{
	[ -d mnt ] && mountpoint -q mnt && umount mnt
	vr_teardown
}

@test "restore --policy gives the NTFS and ext4 applications' files exactly, as a directory and as tar, tar.zst and zip that bsdtar extracts to the same tree" {
	make_site
	run --separate-stderr "$VHDRECOVER" restore --json r child:latest \
		--policy p.yaml --to out
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	json_true "$output" '.apps == 2 and .skipped == 0 and .hardlinks == 2'
	[ "$(ls out)" = $'shopdb\nweb' ] # nothing else
	diff <(tree_of want/ntfs) <(tree_of out/shopdb)
	MODES=1 diff <(tree_of want/ext) <(tree_of out/web)
	# hard links stay links; symlinks keep the guest's text
	[ "$(stat -c %i out/web/srv/www/index.html)" = \
		"$(stat -c %i out/web/srv/www/home.html)" ]
	[ "$(stat -c %h out/shopdb/Apps/ShopDB/shopdb.ini)" = 2 ]
	[ "$(stat -c %i out/shopdb/Apps/ShopDB/shopdb.ini)" = \
		"$(stat -c %i out/shopdb/Apps/ShopDB/shopdb-link.ini)" ]
	[ "$(readlink out/web/srv/www/abs-link)" = /etc/passwd ]
	# directory times as the guest has them, set after their content
	[ "$(stat -c %Y out/shopdb/Apps/ShopDB/empty)" = \
		"$(stat -c %Y want/ntfs/Apps/ShopDB/empty)" ]
	[ "$(stat -c %Y out/web/srv/www/img)" = \
		"$(stat -c %Y want/ext/srv/www/img)" ]

	for fmt in tar tar.zst zip; do
		"$VHDRECOVER" restore r child:latest --policy p.yaml \
			--to "site.$fmt"
		mkdir "x-$fmt"
		bsdtar -xf "site.$fmt" -C "x-$fmt"
		# the listing names every file and link restored to out
		diff <(bsdtar -tf "site.$fmt" | grep -v '/$' | LC_ALL=C sort) \
			<(cd out && find . ! -type d | sed 's|^\./||' |
				LC_ALL=C sort)
		if [ "$fmt" = zip ]; then # zip keeps whole seconds
			diff <(files_of out) <(files_of "x-$fmt")
		else
			diff <(tree_of out) <(tree_of "x-$fmt")
			[ "$(stat -c %i x-$fmt/web/srv/www/index.html)" = \
				"$(stat -c %i x-$fmt/web/srv/www/home.html)" ]
		fi
	done
	[ "$(stat -c %a site.tar)" = 600 ]
	[ -z "$(find . -maxdepth 1 -name 'site.*.tmp.*')" ]
}

@test "restore --only-changed-vs-base gives exactly the files the child changed or added" {
	make_site
	run --separate-stderr "$VHDRECOVER" restore --json r child:latest \
		--policy p.yaml --to changed --only-changed-vs-base
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	for side in ntfs:shopdb ext:web; do
		# what the base lacks, by content: the child's new and changed
		comm -13 <(files_of "base/${side%:*}") \
			<(files_of "want/${side%:*}") >expected
		grep -c . expected
		[ "$(wc -l <expected)" -ge 1 ]
		diff expected <(files_of "changed/${side#*:}")
	done
	json_true "$output" '.unchanged > 40 and .files == 4'
	# a point without a base has nothing to compare with
	"$VHDRECOVER" replicate r disk.raw --name plain
	run --separate-stderr "$VHDRECOVER" restore r plain:latest \
		--policy p.yaml --to x --only-changed-vs-base
	assert_one_line_error 'no preloaded base'
}

@test "a scoped restore of one application reads at most 1.5 times its data plus the file system's metadata" {
	make_site
	run --separate-stderr "$VHDRECOVER" restore --json r child:latest \
		--policy p.yaml --app shopdb --to one
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	app=$(bytes_of one)
	# all the NTFS metadata, as the volume itself counts it: used space
	# less the data of every file in it
	ntfs_mount ntfs.img
	used=$(df -B1 --output=used mnt | tail -1)
	data=$(find mnt -type f -printf '%s\n' | awk '{ b += $1 } END { print b }')
	ntfs_umount
	meta=$((used - data))
	chunk=$(awk '$1 == "chunk_size" { print $2 }' r/config)
	[ "$chunk" -gt 0 ]
	fetched=$(jq ".chunks_fetched * $chunk" <<<"$output")
	echo "app $app metadata $meta fetched $fetched (plain chunk bytes)"
	[ "$fetched" -le $(((app + meta) * 3 / 2)) ]
	# the bound means something: the disk holds far more than that
	[ "$(bytes_of ntree)" -gt $((5 * (app + meta))) ]
}

#!/usr/bin/env bats
# scope.bats - a DR policy's applications looked up inside a recovery
# point (policy check --repo --point): a GPT disk made by sfdisk with ext4
# partitions made by mke2fs -d from directory trees, replicated, and each
# application's files counted in-process against find(1) over the trees.

# shellcheck disable=SC2154 # status, output, stderr: set by bats' run
load helpers

M=$((1024 * 1024))

setup()
{
	vr_setup
}

teardown()
{
	vr_teardown
}

# tree DIR: a small application tree: www with pages and .tmp files, a
# database directory, a symlink, nested directories.
tree()
{
	mkdir -p "$1/www/site/img" "$1/www/cache" "$1/db" "$1/etc/nginx"
	head -c 70000 /dev/urandom >"$1/www/site/index.html"
	head -c 5000 /dev/urandom >"$1/www/site/img/logo.png"
	head -c 300 /dev/urandom >"$1/www/cache/page.tmp"
	head -c 123456 /dev/urandom >"$1/db/main.db"
	head -c 777 /dev/urandom >"$1/db/journal.tmp"
	echo "server {}" >"$1/etc/nginx/nginx.conf"
	ln -s ../www/site/index.html "$1/etc/nginx/index-link"
}

# count_files DIR FIND-ARGS...: "FILES BYTES" of the regular files find
# selects under DIR.
count_files()
{
	local dir=$1
	shift
	find "$dir" -type f "$@" -printf '%s\n' |
		awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
}

# gpt_disk OUT TREE1 TREE2: a 64 MiB raw disk with a GPT (sfdisk): ext4
# partitions 1 (label web) from TREE1 and 2 (label data) from TREE2
# (mke2fs -d), and an empty partition 3.
gpt_disk()
{
	local out=$1 start size
	truncate -s 64M "$out"
	sfdisk --quiet "$out" <<-EOF
		label: gpt
		start=2048, size=40960, name=web
		start=43008, size=40960, name=data
		start=83968, size=20480, name=empty
	EOF
	for p in 1 2; do
		start=$(sfdisk --json "$out" | jq ".partitiontable.partitions[$((p - 1))].start")
		size=$(sfdisk --json "$out" | jq ".partitiontable.partitions[$((p - 1))].size")
		mke2fs -q -F -t ext4 -L "$([ "$p" = 1 ] && echo web || echo data)" \
			-d "$([ "$p" = 1 ] && echo "$2" || echo "$3")" \
			-E offset=$((start * 512)) "$out" $((size / 2))k
	done
}

@test "policy check --repo --point counts each application's files inside a replicated GPT disk, as find does" {
	tree t1
	tree t2
	head -c 999 /dev/urandom >t2/db/extra.db
	gpt_disk disk.raw t1 t2
	"$VHDRECOVER" convert -O vhdx disk.raw base.vhdx
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" base add r base.vhdx --name gold
	"$VHDRECOVER" create child.vhdx --parent base.vhdx
	"$VHDRECOVER" replicate r child.vhdx
	cat >p.yaml <<-'EOF'
		version: 1
		name: scope-test
		applications:
		  - name: web
		    volume: 1
		    include: ["/www/**", "/etc/nginx/**"]
		    exclude: ["**/*.tmp"]
		  - name: db
		    volume: data
		    include: ["/db/*.db"]
		  - name: nothing
		    volume: 2
		    include: ["/no/such/**"]
	EOF
	run --separate-stderr "$VHDRECOVER" policy check --json p.yaml \
		--repo r --point child:latest
	echo "$output $stderr"
	[ "$status" -eq 3 ] # "nothing" finds no file
	read -r n b < <(count_files t1/www ! -name '*.tmp')
	read -r n2 b2 < <(count_files t1/etc/nginx)
	nw=$((n + n2)) bw=$((b + b2))
	json_true "$output" '.found[0].name == "web" and
		.found[0].files == $n and .found[0].bytes == $b and
		.found[0].symlinks == 1 and
		(.found[0].volume | test("web.*partition 1"))' \
		--argjson n "$nw" --argjson b "$bw"
	read -r n b < <(count_files t2/db -name '*.db')
	json_true "$output" '.found[1].name == "db" and .found[1].files == $n
		and .found[1].bytes == $b and (.found[1].volume |
		test("data.*partition 2"))' --argjson n "$n" --argjson b "$b"
	json_true "$output" '.found[2].files == 0 and .found[2].problem == null'

	# the text form says the same, one line per application
	run --separate-stderr "$VHDRECOVER" policy check p.yaml --repo r \
		--point child:latest
	[ "$status" -eq 3 ]
	[[ $output == *"  web on ext4 'web' (partition 1): $nw files, $bw bytes"* ]]
	[[ $output == *"nothing on ext4 'data' (partition 2): 0 files"*"(nothing found)"* ]]
}

@test "policy check --repo --point names a missing partition, a missing label and a partition without a file system in one line each" {
	tree t1
	gpt_disk disk.raw t1 t1
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" replicate r disk.raw --name d
	for vol in 9 nolabel 3; do
		cat >p.yaml <<-EOF
			version: 1
			name: x
			applications:
			  - name: a
			    volume: $vol
			    include: ["/**"]
		EOF
		run --separate-stderr "$VHDRECOVER" policy check --json p.yaml \
			--repo r --point d:latest
		echo "$output $stderr"
		[ "$status" -eq 3 ]
		case $vol in
		9) json_true "$output" '.found[0].problem | test("no partition 9 \\(gpt table, 3 partitions\\)")' ;;
		nolabel) json_true "$output" '.found[0].problem | test("no file system with label .nolabel.")' ;;
		3) json_true "$output" '.found[0].problem | test("partition 3: no file system found")' ;;
		esac
	done
	# usage: --repo without --point
	run --separate-stderr "$VHDRECOVER" policy check p.yaml --repo r
	assert_usage_error
	# a point that does not exist: one line, exit 1
	run --separate-stderr "$VHDRECOVER" policy check p.yaml --repo r \
		--point nosuch
	assert_one_line_error '^vhdrecover: .*nosuch'
}

@test "a hostile ext4 tree whose directories link to themselves and their parent is walked once, in bounded time" {
	mkdir -p t/a/b/c
	echo data >t/a/b/c/f
	truncate -s 16M disk.raw
	mke2fs -q -F -t ext4 -L loop -d t disk.raw
	# directory entries pointing back up: /a/b/up -> /a, /a/b/c/self -> /a/b/c
	debugfs -w -R "link /a /a/b/up" disk.raw
	debugfs -w -R "link /a/b/c /a/b/c/self" disk.raw
	debugfs -R "ls -l /a/b" disk.raw | grep -q " up"
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" replicate r disk.raw --name d
	cat >p.yaml <<-'EOF2'
		version: 1
		name: x
		applications:
		  - name: all
		    volume: loop
		    include: ["/**"]
	EOF2
	run --separate-stderr timeout 60 "$VHDRECOVER" policy check --json \
		p.yaml --repo r --point d:latest
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	# the one file, once; the directories each once more at most, as
	# the entries that point back are met but not walked again
	json_true "$output" '.found[0].files == 1 and .found[0].dirs <= 7'
}

# tree_of DIR: "TYPE MODE MTIME SHA-OR-TARGET PATH" for everything under
# DIR, sorted: what a restored tree must equal.
tree_of()
{
	(cd "$1" && find . -mindepth 1 \( -type f -o -type d -o -type l \) \
		-printf '%y %m %T@ %p\n' | while read -r y m t p; do
		case $y in
		f) echo "f $m ${t%.*} $(sha256sum <"$p" | cut -c1-64) $p" ;;
		l) echo "l - - $(readlink "$p") $p" ;;
		d) echo "d $m - - $p" ;;
		esac
	done | LC_ALL=C sort -k5)
}

@test "restore --policy writes each application's files, modes, times and symlinks into DIR/APP, in order with its hooks; re-running gives the same tree; nothing lands outside" {
	tree t1
	tree t2
	gpt_disk disk.raw t1 t2
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" replicate r disk.raw --name d
	cat >p.yaml <<-'EOF2'
		version: 1
		name: restore-test
		applications:
		  - name: web
		    volume: 1
		    include: ["/www/**", "/etc/nginx/**"]
		    exclude: ["**/*.tmp"]
		    restore: { order: 2, pre: 'echo "pre $VR_APP $VR_TARGET" >>hooks.log', post: 'echo "post $VR_APP" >>hooks.log' }
		  - name: db
		    volume: data
		    include: ["/db/*.db"]
		    restore: { order: 1, post: 'echo "post $VR_APP" >>hooks.log' }
	EOF2
	# what each application must give: the source trees, filtered
	mkdir -p want/web want/db/db
	cp -a t1/www t1/etc want/web/
	find want/web -name '*.tmp' -delete
	cp -a t2/db/main.db want/db/db/
	# directories the globs do not select are made, not copied: compare
	# files and symlinks, and the selected directories' modes
	mkdir outside
	mkdir -p out/web
	ln -s "$VR_WORK/outside" out/web/www # a symlink where a directory goes

	run --separate-stderr "$VHDRECOVER" restore --json r d:latest \
		--policy p.yaml --to out
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	json_true "$output" '.apps == 2 and .skipped == 0'
	[ -z "$(ls -A outside)" ]
	[ -d out/web/www ] && [ ! -L out/web/www ]
	# db first (order 1), then web, each with its hooks
	[ "$(cat hooks.log)" = $'post db\npre web out/web\npost web' ]
	for app in web db; do
		diff <(tree_of "want/$app" | grep -v '^d') \
			<(tree_of "out/$app" | grep -v '^d')
	done
	[ "$(readlink out/web/etc/nginx/index-link)" = ../www/site/index.html ]
	[ "$(stat -c %a out/web/www/site)" = "$(stat -c %a t1/www/site)" ]

	# again, over the restored tree: the same tree, nothing left behind
	tree_of out >before
	rm hooks.log
	run --separate-stderr "$VHDRECOVER" restore r d:latest --policy p.yaml \
		--to out --app web
	[ "$status" -eq 0 ]
	[ "$(wc -l <hooks.log)" -eq 2 ] # web only
	diff before <(tree_of out)
	[ -z "$(find out -name '.vr-restore.*')" ]

	# bad usage and a missing application: one line
	run --separate-stderr "$VHDRECOVER" restore r d:latest --policy p.yaml \
		--to out --app nosuch
	assert_one_line_error "no application 'nosuch'"
	run --separate-stderr "$VHDRECOVER" restore r d:latest --app web --to out
	assert_usage_error
}

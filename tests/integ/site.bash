# site.bash - the test image of scoped restore and mount, as a site has
# it: a GPT disk with an NTFS partition (mkntfs, files put in through
# ntfs-3g) and an ext4 partition (mke2fs -d), a preloaded base made of it,
# a differencing disk the "applications" changed, replicated (make_site),
# and what to compare restored or mounted trees with (tree_of, files_of).
# Loaded by apps.bats and mount.bats after helpers.bash.

# shellcheck shell=bash
M=$((1024 * 1024))
NTFS_START=$((1 * M)) NTFS_SIZE=$((96 * M))
EXT_START=$((97 * M)) EXT_SIZE=$((32 * M))
DISK_SIZE=$((130 * M))

# random FILE BYTES: incompressible content.
random()
{
	mkdir -p "$(dirname "$1")"
	head -c "$2" /dev/urandom >"$1"
}

# ntfs_apps DIR: the Windows side: a shop database and its config, and
# much else that no application of the policy names.
ntfs_apps()
{
	random "$1/Apps/ShopDB/data/shop.mdf" $((3 * M))
	random "$1/Apps/ShopDB/data/shop_log.ldf" $((512 * 1024))
	printf '[db]\r\nport=1433\r\n' >"$1/Apps/ShopDB/shopdb.ini"
	mkdir -p "$1/Apps/ShopDB/Übersicht ✓" "$1/Apps/ShopDB/empty"
	random "$1/Apps/ShopDB/Übersicht ✓/report.pdf" 40000
	local i
	for i in $(seq 1 40); do
		random "$1/Apps/ShopDB/tables/t$i.dat" $((i * 1000))
	done
	random "$1/Apps/ShopDB/temp/scratch.tmp" 9000
	random "$1/Windows/System32/big.dll" $((40 * M))
	random "$1/Users/admin/video.mp4" $((30 * M))
}

# ext_apps DIR: the Linux side: a web site with a hard link and symlinks.
ext_apps()
{
	mkdir -p "$1/srv/www/img" "$1/srv/www/old" "$1/var/log"
	random "$1/srv/www/index.html" 20000
	random "$1/srv/www/img/logo.png" 7000
	ln "$1/srv/www/index.html" "$1/srv/www/home.html"
	ln -s index.html "$1/srv/www/default.html"
	ln -s /etc/passwd "$1/srv/www/abs-link"
	random "$1/srv/www/old/gone.html" 3000
	chmod 0640 "$1/srv/www/img/logo.png"
	chmod 0750 "$1/srv/www/old"
	random "$1/var/log/big.log" $((20 * M))
	# whole seconds, as mke2fs -d copies them; one file gets
	# nanoseconds put in by debugfs later (ext_nanoseconds)
	find "$1" -exec touch -h -d @1790000000 {} +
	touch -d @1612325106.123456789 "$1/srv/www/img/logo.png"
}

# ext_nanoseconds IMG: logo.png's mtime nanoseconds, which mke2fs -d
# does not copy (the extra field: nanoseconds << 2, epoch bits 0).
ext_nanoseconds()
{
	debugfs -w -R "sif /srv/www/img/logo.png mtime_extra $((123456789 << 2))" \
		"$1" >/dev/null 2>&1
	debugfs -R "stat /srv/www/img/logo.png" "$1" 2>/dev/null |
		grep -q 'mtime: 0x[0-9a-f]*:1d6f3454'
}

# ntfs_mount IMG / ntfs_umount: the NTFS file system image at mnt.
ntfs_mount()
{
	mkdir -p mnt
	ntfs-3g "$1" mnt
}

ntfs_umount()
{
	umount mnt
}

# assemble OUT NTFS_IMG EXT_IMG: the GPT disk holding both partitions.
assemble()
{
	rm -f "$1"
	truncate -s "$DISK_SIZE" "$1"
	sfdisk --quiet "$1" <<-EOF
		label: gpt
		start=$((NTFS_START / 512)), size=$((NTFS_SIZE / 512)), type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=win
		start=$((EXT_START / 512)), size=$((EXT_SIZE / 512)), name=linux
	EOF
	dd if="$2" of="$1" bs=1M seek=$((NTFS_START / M)) conv=notrunc,sparse status=none
	dd if="$3" of="$1" bs=1M seek=$((EXT_START / M)) conv=notrunc,sparse status=none
}

# snapshot DIR SRC...: DIR gets a copy of the trees (cp -a keeps links).
snapshot()
{
	local dir=$1
	shift
	mkdir -p "$dir"
	cp -a "$@" "$dir/"
}

# tree_of DIR: "TYPE SIZE MTIME SHA-OR-TARGET PATH" for everything below
# DIR, sorted; with MODES=1 also the permission bits.
tree_of()
{
	(cd "$1" && find . -mindepth 1 \( -type f -o -type l -o -type d \) \
		-printf '%y %s %T@ %m %p\n' | while read -r y s t m p; do
		[ "${MODES:-0}" = 1 ] || m=-
		case $y in
		f) echo "f $s $t $m $(sha256sum <"$p" | cut -c1-64) $p" ;;
		l) echo "l - $t - $(readlink "$p") $p" ;;
		d) echo "d - - $m - $p" ;;
		esac
	done | LC_ALL=C sort -k6)
}

# The whole story, made once per test: base, child changed by the
# applications, replicated. Leaves want/ (the changed trees), base/ (the
# trees of the base) and the repository r with point child:latest.
make_site()
{
	ntfs_apps ntree
	ext_apps etree
	truncate -s "$NTFS_SIZE" ntfs.img
	mkntfs -q -F -Q -L win -p $((NTFS_START / 512)) -H 255 -S 63 \
		ntfs.img >/dev/null 2>&1
	ntfs_mount ntfs.img
	cp -r ntree/. mnt/
	ln mnt/Apps/ShopDB/shopdb.ini mnt/Apps/ShopDB/shopdb-link.ini
	snapshot base/ntfs mnt/Apps
	ntfs_umount
	truncate -s "$EXT_SIZE" ext.img
	mke2fs -q -F -t ext4 -L linux -d etree ext.img
	ext_nanoseconds ext.img
	snapshot base/ext etree/srv
	assemble disk.raw ntfs.img ext.img
	"$VHDRECOVER" convert -O vhdx disk.raw base.vhdx
	"$VHDRECOVER" repo init r
	"$VHDRECOVER" base add r base.vhdx --name gold
	"$VHDRECOVER" create child.vhdx --parent base.vhdx

	# the applications at work: the database grows and changes, a
	# report is added, a table dropped; the web site gets a page
	ntfs_mount ntfs.img
	dd if=/dev/urandom of=mnt/Apps/ShopDB/data/shop.mdf bs=4096 seek=100 count=8 conv=notrunc status=none
	random mnt/Apps/ShopDB/data/shop_log.ldf $((600 * 1024))
	random mnt/Apps/ShopDB/reports/2026-11.csv 12345
	rm mnt/Apps/ShopDB/tables/t7.dat
	snapshot want/ntfs mnt/Apps
	ntfs_umount
	random new.html 4321
	touch -d @1700000000 new.html
	debugfs -w -R "write new.html /srv/www/new.html" ext.img >/dev/null
	debugfs -w -R "sif /srv/www/new.html mtime @1700000000" ext.img >/dev/null
	debugfs -w -R "rm /srv/www/old/gone.html" ext.img >/dev/null
	mkdir -p want/ext && cp -a etree/srv want/ext/
	cp -p new.html want/ext/srv/www/new.html
	rm want/ext/srv/www/old/gone.html
	assemble disk2.raw ntfs.img ext.img
	"$VHDRECOVER" write child.vhdx 0 disk2.raw
	"$VHDRECOVER" replicate r child.vhdx

	cat >p.yaml <<-'EOF'
		version: 1
		name: site
		applications:
		  - name: shopdb
		    volume: win
		    include: ["/apps/shopdb/**"]
		    exclude: ["**/*.tmp"]
		  - name: web
		    volume: 2
		    include: ["/srv/www/**"]
		    restore: { depends_on: [shopdb] }
	EOF
	rm want/ntfs/Apps/ShopDB/temp/scratch.tmp
}

# files_of DIR: "SHA PATH" of the files and symlinks below DIR, sorted.
files_of()
{
	tree_of "$1" | awk '$1 != "d" { print $5, $6 }' | LC_ALL=C sort
}

# bytes_of DIR: the bytes of the regular files below DIR.
bytes_of()
{
	find "$1" -type f -printf '%s\n' | awk '{ b += $1 } END { print b + 0 }'
}

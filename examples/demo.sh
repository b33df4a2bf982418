#!/bin/bash
# demo.sh - the README's first command: build vhdrecover, then show what it
# does today on a disk made by qemu-img and on one made by Windows.
#
# The demo grows with every capability: base images, differencing disks,
# writes, replication cycles, policy, scoped restore and mount each add a
# step here when they land. Every step is a command a user could type.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Same configuration as tests/run.sh, so the two commands share one build.
"$ROOT/tests/bootstrap.sh" build --enable-werror

# The freshly built binary comes first, so the commands shown are the ones a
# user would type after `make install`.
export PATH="$ROOT/build:$PATH"
work=$(mktemp -d)
# Nothing stays mounted; the files stay when a step fails, to look at them.
finish()
{
	local rc=$? m
	for m in "$work/view" "$work/mnt"; do
		if mountpoint -q "$m"; then
			fusermount3 -u "$m" 2>/dev/null || umount "$m" || true
		fi
	done
	if ((rc)); then
		echo "demo failed; files kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap finish EXIT
cd "$work"

bold=
plain=
if [[ -t 1 ]]; then
	bold=$(tput bold 2>/dev/null || true)
	plain=$(tput sgr0 2>/dev/null || true)
fi
# Show a command line, then run it (a pipeline is shown and run whole).
run()
{
	printf '\n%s$ %s%s\n' "$bold" "$1" "$plain"
	eval "$1"
}

echo
echo "== A base image made by vhdrecover, filled by qemu-io (4 MiB of 0xab at 1 MiB)"
echo "   (work directory $work)"
run 'vhdrecover create base.vhdx --size 64M --block-size 1M'
run "qemu-io -c 'write -P 0xab 1M 4M' base.vhdx"
run 'vhdrecover info base.vhdx'
run 'vhdrecover info --json base.vhdx | head -20'
run 'vhdrecover check base.vhdx'
run 'vhdrecover convert base.vhdx base.raw -O raw'
# qemu-img is the oracle: our output must match its reading of the disk.
run 'qemu-img compare -f vhdx -F raw base.vhdx base.raw'
run 'vhdrecover read base.vhdx 1048576 16 | xxd'

echo
echo "== A differencing disk over that base: it reads as the base until written"
run 'vhdrecover create vm1.vhdx --parent base.vhdx'
run 'vhdrecover info vm1.vhdx'
run 'vhdrecover convert vm1.vhdx vm1.raw && cmp vm1.raw base.raw && echo "vm1 reads as its base"'

echo
echo "== Writes land in the differencing disk; the base never changes"
run 'sha256sum base.vhdx | tee base.sum'
run 'head -c 3M /dev/urandom >app.data'
run 'vhdrecover write vm1.vhdx 6M app.data'
run 'printf "config v2\\n%.0s" {1..409} >config.data; printf "config" >>config.data'
run 'cat config.data | vhdrecover write vm1.vhdx 4096 -'
run 'vhdrecover write --zero 1M vm1.vhdx 2M'
run 'vhdrecover info vm1.vhdx | sed -n "/^blocks/,/^sector/p"'
run 'vhdrecover check vm1.vhdx'
run 'sha256sum -c base.sum'
# The mirror: what the chain must read as after those writes.
cp base.raw vm1.expected
dd if=app.data of=vm1.expected bs=1M seek=6 conv=notrunc status=none
dd if=config.data of=vm1.expected bs=4096 seek=1 conv=notrunc status=none
dd if=/dev/zero of=vm1.expected bs=1M seek=2 count=1 conv=notrunc status=none
run 'vhdrecover convert vm1.vhdx vm1.raw && cmp vm1.raw vm1.expected && echo "vm1 reads as its writes over the base"'
# libvhdi, another implementation, reads what we wrote the same way.
mkdir mnt
run 'vhdimount vm1.vhdx mnt >/dev/null && cmp mnt/vhdi2 vm1.expected && echo "libvhdi agrees"; umount mnt'

echo
echo "== Flatten the chain into a new dynamic disk; then fold vm1 into its base"
run 'vhdrecover merge -o flat.vhdx vm1.vhdx'
run 'qemu-img check flat.vhdx && qemu-img compare -f vhdx -F raw flat.vhdx vm1.expected'
run 'vhdrecover merge vm1.vhdx'
run 'qemu-img compare -f vhdx -F raw base.vhdx vm1.expected'

echo
echo "== Convert a raw image to a dynamic VHDX: zero blocks stay unallocated"
run 'vhdrecover convert -O vhdx --block-size 1M vm1.expected vm1-copy.vhdx'
run 'vhdrecover info vm1-copy.vhdx | grep ^blocks'
run 'qemu-img compare -f vhdx -F raw vm1-copy.vhdx vm1.expected'

echo
echo "== A VM's disk over NBD: every write is tracked for the next cycle"
run 'vhdrecover create vm2.vhdx --parent base.vhdx'
run 'vhdrecover changes --reset vm2.vhdx'
nbd="nbd+unix:///?socket=$work/vm2.sock"
# Export vm2.vhdx on $nbd in the background (pid in $server).
serve_vm2()
{
	rm -f "$work/vm2.sock" # nbdkit leaves its socket behind
	printf '\n%s$ %s%s\n' "$bold" "vhdrecover serve vm2.vhdx --socket $work/vm2.sock &" "$plain"
	vhdrecover serve vm2.vhdx --socket "$work/vm2.sock" &
	server=$!
	for _ in $(seq 100); do
		nbdinfo --size "$nbd" >/dev/null 2>&1 && break
		sleep 0.1
	done
}
serve_vm2
run "qemu-io -f raw -c 'write -P 0x77 5M 128k' -c 'write -z 9M 64k' -c 'discard 40M 2M' '$nbd'"
run "nbdinfo --map '$nbd'"
run "kill -TERM $server; wait $server"
run 'vhdrecover changes vm2.vhdx'
run 'vhdrecover changes --json vm2.vhdx | jq -c .extents'
run 'vhdrecover changes --reset vm2.vhdx'

echo
echo "== A repository, and the golden base preloaded into it once"
run 'vhdrecover repo init repo'
run 'vhdrecover base add repo base.vhdx --name golden'
run 'vhdrecover convert base.vhdx base-again.raw && vhdrecover base add repo base-again.raw --name golden-raw'
run 'vhdrecover repo check --read-data repo'

echo
echo "== Replication: vm2's recovery points store only what lies above the golden base"
run 'vhdrecover replicate repo vm2.vhdx'
echo
echo "== Cycles while the VM runs: the served disk is frozen for each point (copy-on-write)"
serve_vm2
run "qemu-io -f raw -c 'write -P 0x88 20M 1M' '$nbd'"
run "vhdrecover policy check '$ROOT/examples/branch-office.yaml'"
run "vhdrecover replicate repo vm2.vhdx --policy '$ROOT/examples/branch-office.yaml'"
run "qemu-io -f raw -c 'write -P 0x99 30M 256k' '$nbd'"
run 'vhdrecover replicate --json repo vm2.vhdx | jq -c "{id, full_scan, bytes_read, bytes_new}"'
run "qemu-img convert -f raw -O raw '$nbd' vm2-live.raw"
run "kill -TERM $server; wait $server"
run 'vhdrecover points repo'
run 'vhdrecover points --json repo | jq -c ".[] | {id, time, base, consistent}"'

echo
echo "== Restore: the whole disk, or only the delta over this site's own copy of the base"
run 'vhdrecover restore repo vm2:latest --to vm2-restored.raw'
run 'cmp vm2-restored.raw vm2-live.raw && echo "the latest point is the disk as served"'
run 'vhdrecover restore --json repo vm2:latest --to vm2-dr.vhdx --parent base.vhdx | jq -c "{bytes_fetched, base_bytes_verified}"'
run 'vhdrecover convert vm2-dr.vhdx vm2-dr.raw && cmp vm2-dr.raw vm2-live.raw && echo "the differencing restore reads the same"'
run 'vhdrecover repo check --read-data repo'

echo
echo "== Space: retention, the storage planner and a quota"
policy="$ROOT/examples/branch-office.yaml"
run 'head -c 2M /dev/urandom >more.data && vhdrecover write vm2.vhdx 50M more.data'
run "vhdrecover replicate repo vm2.vhdx --policy '$policy'"
run "vhdrecover plan repo --policy '$policy'"
run 'vhdrecover points repo --disk vm2'
# Points made under the policy carry its one-day expiry: a rule that would
# drop one is refused (exit 1) unless --force.
run 'vhdrecover forget repo --disk vm2 --keep-last 1 || echo "refused (exit $?): nothing forgotten"'
run 'vhdrecover forget repo --disk vm2 --keep-last 1 --force --dry-run'
# A quota 8 MiB above what the repository holds, then a cycle that needs
# more: deferred (exit 3) with an alert, every point kept.
run 'vhdrecover repo quota repo $(( $(vhdrecover plan --json repo | jq .space.used) + 8 * 1024 * 1024 ))'
run 'head -c 16M /dev/urandom >burst.data && vhdrecover write vm2.vhdx 40M burst.data'
run "vhdrecover replicate repo vm2.vhdx --policy '$policy' || echo \"deferred (exit \$?): every point kept\""
run 'vhdrecover points repo --disk vm2 | tail -n +2 | wc -l'
run 'vhdrecover repo quota repo none'
run "vhdrecover replicate repo vm2.vhdx --policy '$policy'"
run 'vhdrecover forget repo --disk vm2 --keep-last 1 --force'
run 'vhdrecover restore repo vm2:latest --to vm2-now.raw && cmp vm2-now.raw <(vhdrecover read vm2.vhdx 0 $((64 * 1024 * 1024))) && echo "the newest point is the disk"'
run 'vhdrecover repo check --read-data repo'

echo
echo "== Scoped restore: a site's disk (GPT: NTFS with a Windows app, ext4 with a web site) over a golden base"
run 'truncate -s 48M win.img && mkntfs -q -F -Q -L win win.img >/dev/null 2>&1'
run 'mkdir -p mnt && ntfs-3g win.img mnt && mkdir -p mnt/Apps/ShopDB mnt/Windows && head -c 300000 /dev/urandom >mnt/Apps/ShopDB/orders.mdf && echo "port=1433" >mnt/Apps/ShopDB/shopdb.ini && head -c 8M /dev/urandom >mnt/Windows/system.dat && umount mnt'
run 'mkdir -p tree/www/site && echo "<h1>shop</h1>" >tree/www/site/index.html && ln -s site/index.html tree/www/home && mke2fs -q -t ext4 -L web -d tree lin.img 16M'
run 'truncate -s 72M site.raw && printf "label: gpt\nstart=2048, size=98304, name=win\nstart=100352, size=32768, name=linux\n" | sfdisk --quiet site.raw'
run 'dd if=win.img of=site.raw bs=1M seek=1 conv=notrunc status=none && dd if=lin.img of=site.raw bs=1M seek=49 conv=notrunc status=none'
run 'vhdrecover convert -O vhdx site.raw site-base.vhdx && vhdrecover base add repo site-base.vhdx --name site-gold'
run 'vhdrecover create site.vhdx --parent site-base.vhdx'
# The application at work on the machine's differencing disk: a new
# report and a changed config (made on the image, then written into the
# child, as the VM would have).
run 'ntfs-3g win.img mnt && echo "orders=1042" >>mnt/Apps/ShopDB/shopdb.ini && head -c 5000 /dev/urandom >mnt/Apps/ShopDB/report.csv && umount mnt'
run 'dd if=win.img of=site.raw bs=1M seek=1 conv=notrunc status=none && vhdrecover write site.vhdx 0 site.raw && vhdrecover replicate repo site.vhdx'
cat >shop.yaml <<'EOF'
version: 1
name: shop
applications:
  - name: db
    volume: win
    include: ["/apps/shopdb/**"]
    restore: { order: 1, post: "echo restored $VR_APP into $VR_TARGET" }
  - name: web
    volume: web
    include: ["/www/**"]
    restore: { depends_on: [db] }
EOF
run 'cat shop.yaml'
run 'vhdrecover policy check shop.yaml --repo repo --point site:latest'
run 'vhdrecover restore repo site:latest --policy shop.yaml --to restored'
run 'find restored | sort && readlink restored/web/www/home'
run 'vhdrecover restore repo site:latest --policy shop.yaml --to shop.tar.zst && bsdtar -tvf shop.tar.zst'
# This site was rebuilt from the same golden base: only what the machine
# changed is needed.
run "'$ROOT/examples/restore-apps.sh' repo site:latest shop.yaml changed --changed db"
run 'find changed -type f | sort'

echo
echo "== Mount: recovery points as files, read-only (FUSE): whole disks, guest file systems, the policy's applications"
# One 16 MiB chunk cache serves every file of the mount (--cache-size).
run 'mkdir -p view && vhdrecover mount repo view --policy shop.yaml --cache-size 16M && ls view view/points'
run 'ls view/latest view/latest/volumes && ls -l view/latest/volumes/1-win/Apps/ShopDB view/latest/apps/db/Apps/ShopDB'
run 'diff -r view/latest/apps/web restored/web && echo "the web app as restore gives it"'
run 'cmp view/latest/disk.raw <(vhdrecover restore repo latest --to latest.raw >/dev/null && cat latest.raw) && echo "latest/disk.raw is the newest point"'
run 'echo x >view/latest/disk.raw || echo "read-only (exit $?)"'
# A cycle while mounted: its point shows within a second, latest follows.
run 'head -c 65536 /dev/urandom >report2.csv && vhdrecover write site.vhdx $((66 * 1024 * 1024)) report2.csv && vhdrecover replicate repo site.vhdx >/dev/null && sleep 1.5 && ls view/points && readlink view/latest'
run 'fusermount3 -u view'

echo
echo "== A fixed VHDX made by Windows 10 (from tests/corpus)"
run "gzip -dc '$ROOT/tests/corpus/dissect/fixed.vhdx.gz' >fixed.vhdx"
run 'vhdrecover info fixed.vhdx'

echo
echo "demo finished: OK"

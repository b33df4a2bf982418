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
# Keep the files when a step fails, to look at them.
trap 'rc=$?; if ((rc)); then echo "demo failed; files kept in $work" >&2;
	else rm -rf "$work"; fi' EXIT
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
echo "== A differencing disk with written sectors, read through the chain"
# Writing into a differencing disk ("vhdrecover write") is the next step of
# the writer; until then the written chain comes from tests/tools/mkvhdx.py,
# an independent implementation of the VHDX layout used by the tests.
MKVHDX="python3 $ROOT/tests/tools/mkvhdx.py"
run "$MKVHDX golden.vhdx --size 64M --write 0:8M:1 --expect-raw golden.raw"
run "$MKVHDX child.vhdx --parent golden.vhdx --write 1M:4096:2 --write 6M:3M:3 --expect-raw child.expected"
run 'vhdrecover info child.vhdx'
run 'vhdrecover check child.vhdx'
run 'vhdrecover convert child.vhdx child.raw -O raw'
run 'cmp child.raw child.expected && echo "child reads as expected: its writes over the base"'

echo
echo "== A fixed VHDX made by Windows 10 (from tests/corpus)"
run "gzip -dc '$ROOT/tests/corpus/dissect/fixed.vhdx.gz' >fixed.vhdx"
run 'vhdrecover info fixed.vhdx'

echo
echo "demo finished: OK"

#!/bin/bash
# flatten-vm.sh - runbook: turn a machine's differencing disk (and its
# whole chain of bases) into one standalone dynamic VHDX, prove the copy
# reads byte for byte as the chain, and only then, if asked, retire the
# chain's top file.
#
# usage: examples/flatten-vm.sh CHILD.vhdx OUT.vhdx [--retire]
#
# Exits non-zero, leaving everything as it was, if any step fails. The
# chain is never written; OUT appears complete or not at all.
set -euo pipefail

usage()
{
	echo "usage: $0 CHILD.vhdx OUT.vhdx [--retire]" >&2
	exit 2
}

(($# == 2 || $# == 3)) || usage
child=$1 out=$2 retire=${3:-}
[[ -z $retire || $retire == --retire ]] || usage
[[ ! -e $out ]] || {
	echo "$0: $out exists; refusing to replace it" >&2
	exit 1
}

echo "== chain of $child"
vhdrecover info "$child" | grep -E '^(file|type|virtual size|  file):'
vhdrecover check "$child"

echo "== flattening into $out"
vhdrecover merge -o "$out" "$child"
vhdrecover check "$out"

echo "== verifying: the new disk must read as the chain"
size=$(vhdrecover info --json "$child" | jq -r .virtual_size)
want=$(vhdrecover read "$child" 0 "$size" | sha256sum)
got=$(vhdrecover read "$out" 0 "$size" | sha256sum)
if [[ $want != "$got" ]]; then
	echo "$0: $out does not read as $child; keeping both" >&2
	exit 1
fi
echo "identical: ${got%% *}"

if [[ $retire == --retire ]]; then
	rm -- "$child"
	echo "retired $child (its bases are untouched)"
fi

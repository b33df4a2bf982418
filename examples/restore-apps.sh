#!/bin/bash
# restore-apps.sh - runbook: bring back the applications a DR policy names
# from a machine's recovery point, without restoring its disks: check the
# policy against the point (each application's volume and files), then
# restore them in the policy's order with their hooks, into a directory or
# an archive (.tar, .tar.zst, .zip).
#
# usage: examples/restore-apps.sh REPO POINT POLICY.yaml TARGET [--changed] [APP...]
#
#   --changed   only the files that differ from the point's preloaded base
#               (this site was rebuilt from the same base and has the rest)
#
# Exits non-zero if the policy does not load, an application finds nothing
# in the point (exit 3 of policy check), or the restore fails.
set -euo pipefail

usage()
{
	echo "usage: $0 REPO POINT POLICY.yaml TARGET [--changed] [APP...]" >&2
	exit 2
}

(($# >= 4)) || usage
repo=$1 point=$2 policy=$3 target=$4
shift 4
extra=()
if [[ ${1:-} == --changed ]]; then
	extra+=(--only-changed-vs-base)
	shift
fi
for app in "$@"; do
	extra+=(--app "$app")
done

echo "== what the policy finds in $point"
vhdrecover policy check "$policy" --repo "$repo" --point "$point"

echo "== restoring into $target"
vhdrecover restore --json "$repo" "$point" --policy "$policy" \
	--to "$target" "${extra[@]}" |
	jq -r '"point \(.point): \(.apps) applications, \(.files) files (\(.bytes) bytes), \(.hardlinks) hard links, \(.unchanged) unchanged left out; \(.bytes_fetched) bytes read from the repository"'
echo "== done: $target"

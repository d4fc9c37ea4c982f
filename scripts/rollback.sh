#!/usr/bin/env bash
# Switch back to the previous release installed by scripts/deploy.sh.
#
#   scripts/rollback.sh [--root DIR] [--restart CMD]
#
# Atomically points DIR/current (default /opt/wings) at the release
# DIR/previous names, and previous at the one being left, so a second
# rollback goes forward again. Takes well under a second; --restart CMD then
# restarts the server (e.g. "systemctl restart wings").
set -euo pipefail

root=/opt/wings
restart=
usage() { echo "usage: $0 [--root DIR] [--restart CMD]" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
	--restart) [ $# -ge 2 ] || usage; restart=$2; shift 2 ;;
	*) usage ;;
	esac
done

cur=$(readlink "$root/current" 2>/dev/null) || { echo "rollback.sh: $root/current is not a release link" >&2; exit 1; }
prev=$(readlink "$root/previous" 2>/dev/null) || { echo "rollback.sh: no previous release under $root" >&2; exit 1; }
[ -x "$root/$prev/bin/wings" ] || { echo "rollback.sh: previous release $prev is missing or broken" >&2; exit 1; }

switch() {
	local link=$root/.$1.tmp.$$
	ln -sfn "$2" "$link"
	mv -T "$link" "$root/$1"
}
switch current "$prev"
switch previous "$cur"
touch "$root/$prev" # now the newest in use: pruning keeps it
echo "rollback.sh: current -> $prev (was $cur)" >&2
if [ -n "$restart" ]; then
	bash -c "$restart"
fi
basename "$prev"

#!/usr/bin/env bash
# Install a release tarball (from `make release`) and make it current.
#
#   scripts/deploy.sh [--root DIR] [--restart CMD] TARBALL
#
# Layout under DIR (default /opt/wings):
#   releases/<version>/   one directory per installed release
#   current -> releases/<version>    what runs (start DIR/current/bin/wings serve --conf DIR/current/conf)
#   previous -> releases/<version>   what scripts/rollback.sh switches back to
#
# The checksum TARBALL.sha256 beside the tarball must match. The switch is
# atomic: a new symlink is made under a temporary name and renamed over
# `current` (mv -T), so a reader sees the old or the new release, never
# neither. The newest 3 releases are kept (current and previous always).
# --restart CMD runs CMD after the switch (e.g. "systemctl restart wings",
# or the SO_REUSEPORT handover described in README "Zero-downtime restart").
set -euo pipefail

root=/opt/wings
restart=
usage() { echo "usage: $0 [--root DIR] [--restart CMD] TARBALL" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
	--restart) [ $# -ge 2 ] || usage; restart=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
keep=3

[ -f "$tarball" ] || { echo "deploy.sh: no such file: $tarball" >&2; exit 1; }
[ -f "$tarball.sha256" ] || { echo "deploy.sh: missing checksum file $tarball.sha256" >&2; exit 1; }
(cd "$(dirname "$tarball")" && sha256sum --quiet -c "$(basename "$tarball").sha256") ||
	{ echo "deploy.sh: checksum mismatch for $tarball" >&2; exit 1; }

mkdir -p "$root/releases"
tmp=$(mktemp -d "$root/releases/.incoming.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xzf "$tarball"
top=$(ls "$tmp")
[ "$(echo "$top" | wc -l)" -eq 1 ] && [ -f "$tmp/$top/VERSION" ] && [ -x "$tmp/$top/bin/wings" ] ||
	{ echo "deploy.sh: $tarball is not a wings release (want one wings-<version>/ with VERSION and bin/wings)" >&2; exit 1; }
version=$(cat "$tmp/$top/VERSION")
dest=$root/releases/$version

if [ -e "$dest" ]; then
	echo "deploy.sh: $version is already installed; switching to it" >&2
else
	mv -T "$tmp/$top" "$dest"
fi
touch "$dest" # the install order, for pruning

# switch NAME TARGET: atomically point $root/NAME at TARGET (relative).
switch() {
	local link=$root/.$1.tmp.$$
	ln -sfn "$2" "$link"
	mv -T "$link" "$root/$1"
}
old=$(readlink "$root/current" 2>/dev/null || true)
if [ "$old" != "releases/$version" ]; then
	[ -z "$old" ] || switch previous "$old"
	switch current "releases/$version"
fi
echo "deploy.sh: current -> releases/$version${old:+ (previous: $old)}" >&2

# Keep the newest $keep releases, never current or previous.
cur=$(readlink "$root/current") prev=$(readlink "$root/previous" 2>/dev/null || true)
n=0
while IFS= read -r d; do
	n=$((n + 1))
	[ $n -gt $keep ] || continue
	[ "releases/$d" != "$cur" ] && [ "releases/$d" != "$prev" ] || continue
	rm -rf "${root:?}/releases/$d"
	echo "deploy.sh: removed old release $d" >&2
done < <(ls -1t "$root/releases")

if [ -n "$restart" ]; then
	bash -c "$restart"
fi
echo "$version"

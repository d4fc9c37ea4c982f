#!/usr/bin/env bash
# The front end's build (web/ -> app/web/dist, committed and embedded).
#
#   scripts/web.sh build   make web: install the locked packages (npm ci) and rebuild app/web/dist
#   scripts/web.sh check   make test: rebuild into a temporary directory from the locked packages
#                          and fail if it differs from the committed app/web/dist
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root/web"
"$root/scripts/deps.sh" node
# --ignore-scripts: esbuild finds its binary in the locked @esbuild/<platform>
# package without its postinstall check.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
case ${1:-} in
build)
	node build.mjs "$root/app/web/dist"
	;;
check)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	node build.mjs "$tmp/dist" >/dev/null
	if ! diff -r "$tmp/dist" "$root/app/web/dist"; then
		echo "web.sh: app/web/dist is not what web/ builds with the locked packages: run make web and commit it" >&2
		exit 1
	fi
	echo "app/web/dist matches a rebuild from web/package-lock.json"
	;;
*)
	echo "usage: $0 build|check" >&2
	exit 2
	;;
esac

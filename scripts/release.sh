#!/usr/bin/env bash
# make release: build a versioned, self-contained tarball and its checksum.
#
#   scripts/release.sh            -> dist/wings-<version>-<os>-<arch>.tar.gz (+ .sha256)
#
# Environment: VERSION (default: git describe --tags --always --dirty),
# COMMIT, BUILD_TIME, DIST (output directory, default dist/), GOOS/GOARCH.
# The tarball holds one directory, wings-<version>/, with bin/wings (version,
# commit and build time injected: `wings version`, GET /version), conf/
# (config and the Prometheus rules and Grafana dashboard), deploy/ (nginx
# and Kubernetes examples), scripts/deploy.sh and scripts/rollback.sh, and a
# VERSION file. Install it with scripts/deploy.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
build_time=${BUILD_TIME:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
dist=${DIST:-$root/dist}
goos=${GOOS:-$(go env GOOS)}
goarch=${GOARCH:-$(go env GOARCH)}
if ! [[ $version =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]]; then
	echo "release.sh: version '$version' is not usable in a file name" >&2
	exit 2
fi

name=wings-$version
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir/bin" "$dir/scripts" "$dist"

# Same flags as `make build`, so the build cache is shared (only the link
# step differs). Set CGO_ENABLED=0 for a fully static binary.
GOOS=$goos GOARCH=$goarch go build \
	-ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.buildTime=$build_time" \
	-o "$dir/bin/wings" ./cmd/wings
cp -R conf "$dir/conf"
[ ! -d deploy ] || cp -R deploy "$dir/deploy"
cp scripts/deploy.sh scripts/rollback.sh "$dir/scripts/"
echo "$version" >"$dir/VERSION"

tarball=$name-$goos-$goarch.tar.gz
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$dist/$tarball" "$name"
(cd "$dist" && sha256sum "$tarball" >"$tarball.sha256")
echo "$dist/$tarball"

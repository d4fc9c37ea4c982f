#!/usr/bin/env bash
# Install the Debian packages behind the services used by `make run` / `make test`.
#
#   scripts/deps.sh NAME...    NAME: redis clickhouse etcd promtool wrk nginx chromium node prometheus alertmanager blackbox zookeeper
#                              prometheus alertmanager blackbox
#
# Silent when everything is present. Otherwise installs the missing packages
# (apt-get update first), one line per package on stderr. Safe to run from two
# processes at once (flock); package postinst scripts may not start services.
set -euo pipefail

LOCK=/tmp/wings-deps.lock
APT_LOG=/tmp/wings-deps-apt-$(id -u).log
POLICY=/usr/sbin/policy-rc.d

# bins NAME / pkgs NAME: binaries that must exist, packages that provide them.
bins() {
	case $1 in
	redis) echo redis-server redis-cli ;;
	clickhouse) echo clickhouse-server clickhouse-client ;;
	etcd) echo etcd etcdctl ;;
	promtool) echo promtool ;;
	wrk) echo wrk ;;
	nginx) echo nginx ;;
	chromium) echo chromium ;;
	node) echo node npm ;;
	prometheus) echo prometheus promtool ;;
	alertmanager) echo prometheus-alertmanager amtool ;;
	blackbox) echo prometheus-blackbox-exporter ;;
	zookeeper) echo java /usr/share/zookeeper/bin/zkServer.sh ;;
	*) echo "deps.sh: unknown dependency '$1' (want redis|clickhouse|etcd|promtool|wrk|nginx|chromium|node|prometheus|alertmanager|blackbox|zookeeper)" >&2; exit 2 ;;
	esac
}
pkgs() {
	case $1 in
	redis) echo redis-server ;;
	clickhouse) echo clickhouse-server clickhouse-client ;;
	etcd) echo etcd-server etcd-client ;;
	promtool) echo prometheus ;;
	wrk) echo wrk ;;
	nginx) echo nginx ;;
	chromium) echo chromium ;; # the browser tests (test/web_test.go)
	node) echo nodejs npm ;;   # make web, and make test's check of the committed bundle
	prometheus) echo prometheus ;;
	alertmanager) echo prometheus-alertmanager ;;
	blackbox) echo prometheus-blackbox-exporter ;;
	zookeeper) echo zookeeper ;; # scripts/cluster.sh (ClickHouse replication and ON CLUSTER DDL)
	esac
}

# missing_pkgs NAME...: packages needed for the NAMEs whose binaries are absent.
missing_pkgs() {
	local name bin
	for name in "$@"; do
		for bin in $(bins "$name"); do
			if ! PATH=$PATH:/usr/sbin:/sbin command -v "$bin" >/dev/null; then
				pkgs "$name"
				break
			fi
		done
	done
}

[ $# -gt 0 ] || { echo "usage: $0 redis|clickhouse|etcd|promtool|wrk|nginx|chromium|node|prometheus|alertmanager|blackbox|zookeeper..." >&2; exit 2; }
for name in "$@"; do bins "$name" >/dev/null; done

# Fast path: nothing to do, no lock taken.
[ -n "$(missing_pkgs "$@")" ] || exit 0

# A shared, world-writable lock file; flock works on a read-only descriptor.
[ -e "$LOCK" ] || { touch "$LOCK" && chmod 666 "$LOCK"; } 2>/dev/null || true
exec 9<"$LOCK"
flock 9
# Re-check under the lock: another process may just have installed them.
read -r -a todo <<<"$(missing_pkgs "$@" | tr '\n' ' ')"
[ ${#todo[@]} -gt 0 ] || exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${todo[*]}" >&2; exit 1; }
	sudo=(sudo)
fi

# Keep postinst scripts from starting system-wide daemons.
created_policy=
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$POLICY" >/dev/null
	"${sudo[@]}" chmod 755 "$POLICY"
	created_policy=1
fi
cleanup() { [ -z "$created_policy" ] || "${sudo[@]}" rm -f "$POLICY"; }
trap cleanup EXIT

apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300)
if ! { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "${todo[@]}"; } >"$APT_LOG" 2>&1; then
	tail -n 30 "$APT_LOG" >&2
	echo "deps.sh: failed to install: ${todo[*]} (log: $APT_LOG)" >&2
	exit 1
fi
for p in "${todo[@]}"; do echo "deps.sh: installed $p" >&2; done

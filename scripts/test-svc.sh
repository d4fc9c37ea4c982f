#!/usr/bin/env bash
# Self-test for svc.sh: start each service on a non-default port, check that it
# answers (and that start is idempotent), stop it and check the process is gone.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
svc=$here/svc.sh
root=$(dirname "$here")

fail() { echo "FAIL: $*" >&2; exit 1; }

# gone PID: no such process (or only a zombie waiting to be reaped).
gone() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] || [ ! -e "/proc/$1" ]; }

check() {
	local name=$1 port=$2 addr=127.0.0.1:$2 t0 out pid
	"$svc" stop "$name" "$port"
	rm -rf "$root/.data/$name-$port"
	trap '"$svc" stop "$name" "$port"' EXIT
	t0=$EPOCHREALTIME
	out=$("$svc" start "$name" "$port" | tail -n 1)
	[ "$out" = "$addr" ] || fail "$name: start printed '$out', want '$addr'"
	printf '%-10s started on %s in %.2fs\n' "$name" "$addr" "$(awk "BEGIN { print $EPOCHREALTIME - $t0 }")"

	case $name in
	redis)
		redis-cli -h 127.0.0.1 -p "$port" set wings:test ok >/dev/null
		[ "$(redis-cli -h 127.0.0.1 -p "$port" get wings:test)" = ok ] || fail "redis get"
		;;
	clickhouse)
		clickhouse-client --host 127.0.0.1 --port "$port" -q 'SELECT version(), timezone()'
		clickhouse-client --host 127.0.0.1 --port "$port" -mn -q "
			CREATE TABLE IF NOT EXISTS wings_test (d Date, n UInt32) ENGINE = MergeTree() PARTITION BY d ORDER BY n;
			INSERT INTO wings_test VALUES (today(), 42);"
		[ "$(clickhouse-client --host 127.0.0.1 --port "$port" -q 'SELECT max(n) FROM wings_test')" = 42 ] ||
			fail "clickhouse select"
		[ "$(curl -fsS "http://127.0.0.1:$((port - 900))/?query=SELECT%201")" = 1 ] || fail "clickhouse http"
		;;
	etcd)
		export ETCDCTL_API=3
		etcdctl --endpoints "$addr" put wings/test ok >/dev/null
		[ "$(etcdctl --endpoints "$addr" get --print-value-only wings/test)" = ok ] || fail "etcd get"
		;;
	esac

	pid=$(cat "$root/.data/$name-$port/server.pid")
	[ "$("$svc" start "$name" "$port" | tail -n 1)" = "$addr" ] || fail "$name: second start"
	[ "$(cat "$root/.data/$name-$port/server.pid")" = "$pid" ] || fail "$name: second start restarted the server"
	[ "$("$svc" status "$name" "$port")" = running ] || fail "$name: status after start"

	"$svc" stop "$name" "$port"
	gone "$pid" || fail "$name: pid $pid still alive after stop"
	[ "$("$svc" status "$name" "$port")" = stopped ] || fail "$name: status after stop"
	echo "$name stopped, pid $pid gone"
	trap - EXIT
}

check redis 6391
check clickhouse 19100
check etcd 2489
echo "test-svc: OK"

#!/usr/bin/env bash
# Run a backing service on 127.0.0.1 for `make run` / `make test`.
#
#   scripts/svc.sh start|stop|status|wait NAME [PORT]
#
#   NAME        default PORT  other ports
#   redis       6390          -
#   clickhouse  19000         http PORT-900, interserver http PORT+9
#   etcd        2389          peer PORT+1
#
# Everything (config, data, logs, pid file) lives in .data/NAME-PORT/ at the
# repo root. `start` is idempotent and prints the address (127.0.0.1:PORT) as
# its last line; `wait` waits until the server answers and prints the same;
# `status` prints running/stopped (exit 0/3); `stop` sends TERM, then KILL
# after 10s. Timeouts: clickhouse 60s, others 15s.
#
# Port scheme: an instance of NAME on PORT only ever uses the ports listed
# above. ClickHouse instances never clash when their PORTs differ by a
# multiple of 10 other than 900 (e.g. 19000, 19100, 19200); etcd instances
# need PORTs at least 2 apart. `start` refuses to run if a port is taken.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { echo "usage: $0 start|stop|status|wait redis|clickhouse|etcd [PORT]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 name=$2

case $name in
redis) port=${3:-6390} timeout=15 comm=redis-server ;;
clickhouse) port=${3:-19000} timeout=60 comm=clickhouse-serv ;; # comm is cut at 15 chars
etcd) port=${3:-2389} timeout=15 comm=etcd ;;
*) usage ;;
esac
if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1024 ] || [ "$port" -gt 65000 ]; then
	echo "svc.sh: bad port '$port'" >&2
	exit 2
fi

dir=$root/.data/$name-$port
pidfile=$dir/server.pid
log=$dir/server.log # the server's stdout/stderr (ClickHouse logs to log/ instead)
addr=127.0.0.1:$port

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

# pid: print the PID from the pid file if that process is alive and is ours.
pid() {
	local p
	p=$(cat "$pidfile" 2>/dev/null) || return 1
	[[ $p =~ ^[0-9]+$ ]] && alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$comm" ] || return 1
	echo "$p"
}

# answers: does the server on $port respond to a trivial request?
answers() {
	case $name in
	redis) [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] ;;
	clickhouse) clickhouse-client --host 127.0.0.1 --port "$port" -q 'SELECT 1' >/dev/null 2>&1 ;;
	etcd) ETCDCTL_API=3 etcdctl --endpoints "$addr" --dial-timeout 1s --command-timeout 2s \
		endpoint health >/dev/null 2>&1 ;;
	esac
}

ports() {
	case $name in
	redis) echo "$port" ;;
	clickhouse) echo "$port $((port - 900)) $((port + 9))" ;;
	etcd) echo "$port $((port + 1))" ;;
	esac
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

logtail() {
	local f
	for f in "$log" "$dir"/log/*.err.log; do
		[ -s "$f" ] || continue
		echo "--- tail of $f" >&2
		tail -n 30 "$f" >&2
	done
}

# wait_ready: wait until our process answers; fail if it dies or times out.
wait_ready() {
	local deadline=$((SECONDS + timeout))
	while :; do
		if ! pid >/dev/null; then
			# Just spawned, the process may not have exec'd the server yet
			# (comm is still setsid/nohup): give it until the deadline.
			if alive "$(cat "$pidfile" 2>/dev/null || echo 0)" && [ $SECONDS -lt $deadline ]; then
				sleep 0.05
				continue
			fi
			echo "svc.sh: $name on $addr is not running" >&2
			logtail
			return 1
		fi
		answers && break
		if [ $SECONDS -ge $deadline ]; then
			echo "svc.sh: $name on $addr did not answer within ${timeout}s" >&2
			logtail
			return 1
		fi
		sleep 0.2
	done
	echo "$addr"
}

# wait_answer: wait until whatever listens on $port answers (for `wait`).
wait_answer() {
	local deadline=$((SECONDS + timeout))
	until answers; do
		[ $SECONDS -lt $deadline ] || { echo "svc.sh: nothing answers on $addr after ${timeout}s" >&2; return 1; }
		sleep 0.2
	done
	echo "$addr"
}

write_config() {
	case $name in
	redis)
		cat >"$dir/redis.conf" <<-EOF
			bind 127.0.0.1
			port $port
			dir $dir/data
			logfile ""
			daemonize no
			save ""
			appendonly no
		EOF
		;;
	clickhouse)
		cat >"$dir/config.xml" <<-EOF
			<?xml version="1.0"?>
			<yandex>
			    <logger>
			        <level>information</level>
			        <log>$dir/log/clickhouse-server.log</log>
			        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
			        <size>100M</size>
			        <count>3</count>
			    </logger>
			    <listen_host>127.0.0.1</listen_host>
			    <tcp_port>$port</tcp_port>
			    <http_port>$((port - 900))</http_port>
			    <interserver_http_port>$((port + 9))</interserver_http_port>
			    <interserver_http_host>127.0.0.1</interserver_http_host>
			    <path>$dir/data/</path>
			    <tmp_path>$dir/tmp/</tmp_path>
			    <user_files_path>$dir/user_files/</user_files_path>
			    <format_schema_path>$dir/format_schemas/</format_schema_path>
			    <users_config>$dir/users.xml</users_config>
			    <default_profile>default</default_profile>
			    <default_database>default</default_database>
			    <timezone>Asia/Shanghai</timezone>
			    <mark_cache_size>536870912</mark_cache_size>
			    <uncompressed_cache_size>536870912</uncompressed_cache_size>
			    <max_concurrent_queries>100</max_concurrent_queries>
			</yandex>
		EOF
		cat >"$dir/users.xml" <<-EOF
			<?xml version="1.0"?>
			<yandex>
			    <profiles>
			        <default>
			            <max_memory_usage>4000000000</max_memory_usage>
			            <load_balancing>random</load_balancing>
			        </default>
			    </profiles>
			    <users>
			        <default>
			            <password></password>
			            <networks>
			                <ip>127.0.0.1</ip>
			                <ip>::1</ip>
			            </networks>
			            <profile>default</profile>
			            <quota>default</quota>
			        </default>
			    </users>
			    <quotas>
			        <default>
			            <interval>
			                <duration>3600</duration>
			                <queries>0</queries>
			                <errors>0</errors>
			                <result_rows>0</result_rows>
			                <read_rows>0</read_rows>
			                <execution_time>0</execution_time>
			            </interval>
			        </default>
			    </quotas>
			</yandex>
		EOF
		;;
	esac
}

# set_argv: the server command line, in the array argv.
set_argv() {
	local peer=http://127.0.0.1:$((port + 1))
	case $name in
	redis) argv=(redis-server "$dir/redis.conf") ;;
	clickhouse) argv=(clickhouse-server --config-file="$dir/config.xml") ;;
	etcd) argv=(etcd --name "wings-$port" --data-dir "$dir/data"
		--listen-client-urls "http://$addr" --advertise-client-urls "http://$addr"
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer"
		--initial-cluster "wings-$port=$peer") ;;
	esac
}

start() {
	if pid >/dev/null; then
		wait_ready
		return
	fi
	"$root/scripts/deps.sh" "$name"
	local p
	for p in $(ports); do
		if port_in_use "$p"; then
			echo "svc.sh: 127.0.0.1:$p is already in use, cannot start $name on $addr" >&2
			return 1
		fi
	done
	mkdir -p "$dir/data" && chmod 700 "$dir/data"
	[ "$name" != clickhouse ] || mkdir -p "$dir/log"
	write_config
	local -a argv
	set_argv
	# setsid: own process group, so stop can kill everything it spawned.
	# 9>&-: the server must not inherit our lock.
	PATH=$PATH:/usr/sbin setsid nohup "${argv[@]}" </dev/null >"$log" 2>&1 9>&- &
	echo $! >"$pidfile"
	wait_ready
}

stop() {
	local p
	if p=$(pid); then
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
		local deadline=$((SECONDS + 10))
		while alive "$p" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		kill -KILL -- "-$p" 2>/dev/null || true
		while alive "$p"; do sleep 0.1; done
	fi
	rm -f "$pidfile"
}

mkdir -p "$dir"
# One start/stop at a time per instance.
exec 9>>"$dir/.lock"
case $cmd in
start) flock 9; start ;;
stop) flock 9; stop ;;
status) if pid >/dev/null; then echo running; else echo stopped; exit 3; fi ;;
wait) wait_answer ;;
*) usage ;;
esac

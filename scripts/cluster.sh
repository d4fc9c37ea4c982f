#!/usr/bin/env bash
# A local scale-out cluster on loopback, for the failover tests and benchmarks.
#
#   scripts/cluster.sh up|down|status
#
# up starts, under .data/cluster/ (config, data, logs, one pid file each):
#   ZooKeeper         127.0.0.1:29181
#   ClickHouse x4     2 shards x 2 replicas, cluster wings_cluster:
#                     ch0 (shard 01, r1) tcp 29100   ch1 (shard 01, r2) tcp 29110
#                     ch2 (shard 02, r1) tcp 29120   ch3 (shard 02, r2) tcp 29130
#                     (http tcp+1, interserver tcp+2)
#   Redis Cluster x6  29301..29306 (bus 29401..29406), 3 masters + 3 replicas
#   mock upstream     127.0.0.1:29590
#   Wings x3          127.0.0.1:29501..29503
#   nginx             127.0.0.1:29080 in front of the three Wings; idempotent
#                     GETs move to the next instance on error, timeout, 502, 503
# then migrates ON CLUSTER and loads demo events through the Distributed
# table (DEMO_ROWS, default 200000, over 30 days; 0: none). It installs missing Debian
# packages (scripts/deps.sh) and prints CLICKHOUSE_ADDRS=, REDIS_ADDRS= and,
# last, WINGS_URL=.
#
# down stops everything by PID (TERM, KILL after 10 s) and removes
# .data/cluster: ClickHouse's replicated tables live both in its data folder
# and in ZooKeeper, so both go together and the next up starts clean.
# status prints one line per process: NAME PID|- running|stopped.
# start NAME starts one stopped process of a running cluster again (for the
# failover tests: wings1..3, ch0..3, redis1..6, nginx, zk), keeping its data.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/bin/wings
cluster=wings_cluster
# CLUSTER_PORT_OFFSET moves every port (29xxx + offset) and the data folder
# (.data/cluster-OFFSET), so a second cluster can run beside the default one.
off=${CLUSTER_PORT_OFFSET:-0}
[[ $off =~ ^[0-9]+$ ]] && [ "$off" -le 35000 ] || { echo "cluster.sh: CLUSTER_PORT_OFFSET must be an integer in 0..35000, got '$off'" >&2; exit 2; }
base=$root/.data/cluster
[ "$off" = 0 ] || base=$base-$off
zk_port=$((29181 + off))
ch_ports=($((29100 + off)) $((29110 + off)) $((29120 + off)) $((29130 + off)))
redis_ports=($((29301 + off)) $((29302 + off)) $((29303 + off)) $((29304 + off)) $((29305 + off)) $((29306 + off)))
wings_ports=($((29501 + off)) $((29502 + off)) $((29503 + off)))
mock_port=$((29590 + off))
nginx_port=$((29080 + off))

die() { echo "cluster.sh: $*" >&2; exit 1; }

alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

# pidof_name NAME: the live PID in NAME's pid file, or fail.
pidof_name() {
	local p
	p=$(cat "$base/$1/pid" 2>/dev/null) || return 1
	[[ $p =~ ^[0-9]+$ ]] && alive "$p" && echo "$p"
}

# spawn NAME LOG CMD...: start CMD in its own session, record its PID.
spawn() {
	local name=$1 log=$2
	shift 2
	mkdir -p "$base/$name"
	PATH=$PATH:/usr/sbin setsid nohup "$@" </dev/null >"$log" 2>&1 9>&- &
	echo $! >"$base/$name/pid"
}

# wait_for WHAT SECONDS CMD...: retry CMD until it succeeds.
wait_for() {
	local what=$1 secs=$2 deadline
	shift 2
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || die "$what did not come up within ${secs}s"
		sleep 0.2
	done
}

stop_name() {
	local p deadline
	p=$(pidof_name "$1") || return 0
	kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	deadline=$((SECONDS + 10))
	while alive "$p" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
	while alive "$p"; do sleep 0.1; done
}

names() {
	echo zk
	local i
	for i in 0 1 2 3; do echo "ch$i"; done
	for i in 1 2 3 4 5 6; do echo "redis$i"; done
	echo mock
	for i in 1 2 3; do echo "wings$i"; done
	echo nginx
}

start_zk() {
	local d=$base/zk
	mkdir -p "$d/data"
	cat >"$d/zoo.cfg" <<-EOF
		tickTime=500
		initLimit=10
		syncLimit=5
		dataDir=$d/data
		clientPort=$zk_port
		clientPortAddress=127.0.0.1
		admin.enableServer=false
		maxClientCnxns=200
	EOF
	spawn zk "$d/zk.log" java -Xmx256m -cp "/usr/share/java/*:/usr/share/zookeeper/*" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg"
	wait_for "ZooKeeper on $zk_port" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port"
}

# ch_config I: ClickHouse instance I's config.xml, users.xml and config.d.
ch_config() {
	local i=$1 d=$base/ch$1 port=${ch_ports[$1]} shard replica
	shard=0$((i / 2 + 1)) replica=r$((i % 2 + 1))
	mkdir -p "$d/data" "$d/tmp" "$d/log" "$d/config.d"
	cat >"$d/config.xml" <<-EOF
		<?xml version="1.0"?>
		<yandex>
		    <logger>
		        <level>information</level>
		        <log>$d/log/clickhouse-server.log</log>
		        <errorlog>$d/log/clickhouse-server.err.log</errorlog>
		        <size>100M</size>
		        <count>2</count>
		    </logger>
		    <listen_host>127.0.0.1</listen_host>
		    <tcp_port>$port</tcp_port>
		    <http_port>$((port + 1))</http_port>
		    <interserver_http_port>$((port + 2))</interserver_http_port>
		    <interserver_http_host>127.0.0.1</interserver_http_host>
		    <path>$d/data/</path>
		    <tmp_path>$d/tmp/</tmp_path>
		    <user_files_path>$d/user_files/</user_files_path>
		    <format_schema_path>$d/format_schemas/</format_schema_path>
		    <users_config>$d/users.xml</users_config>
		    <default_profile>default</default_profile>
		    <default_database>default</default_database>
		    <timezone>Asia/Shanghai</timezone>
		    <mark_cache_size>268435456</mark_cache_size>
		    <uncompressed_cache_size>268435456</uncompressed_cache_size>
		    <max_concurrent_queries>100</max_concurrent_queries>
		    <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>
		</yandex>
	EOF
	cat >"$d/users.xml" <<-EOF
		<?xml version="1.0"?>
		<yandex>
		    <profiles><default>
		        <max_memory_usage>2000000000</max_memory_usage>
		        <load_balancing>in_order</load_balancing>
		        <prefer_localhost_replica>0</prefer_localhost_replica>
		        <log_queries>1</log_queries>
		        <connect_timeout_with_failover_ms>200</connect_timeout_with_failover_ms>
		    </default></profiles>
		    <users><default>
		        <password></password>
		        <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
		        <profile>default</profile>
		        <quota>default</quota>
		    </default></users>
		    <quotas><default><interval>
		        <duration>3600</duration><queries>0</queries><errors>0</errors>
		        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
		    </interval></default></quotas>
		</yandex>
	EOF
	cat >"$d/config.d/cluster.xml" <<-EOF
		<yandex>
		  <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node></zookeeper>
		  <macros><shard>$shard</shard><replica>$replica</replica></macros>
		  <remote_servers>
		    <$cluster>
		      <shard><internal_replication>true</internal_replication>
		        <replica><host>127.0.0.1</host><port>${ch_ports[0]}</port></replica>
		        <replica><host>127.0.0.1</host><port>${ch_ports[1]}</port></replica></shard>
		      <shard><internal_replication>true</internal_replication>
		        <replica><host>127.0.0.1</host><port>${ch_ports[2]}</port></replica>
		        <replica><host>127.0.0.1</host><port>${ch_ports[3]}</port></replica></shard>
		    </$cluster>
		  </remote_servers>
		  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
		</yandex>
	EOF
}

ch_answers() { clickhouse-client --host 127.0.0.1 --port "$1" -q 'SELECT 1'; }

start_ch() {
	local i=$1
	ch_config "$i"
	spawn "ch$i" "$base/ch$i/server.log" clickhouse-server --config-file="$base/ch$i/config.xml"
}

start_redis() {
	local i=$1 port=${redis_ports[$1 - 1]} d=$base/redis$1
	mkdir -p "$d"
	cat >"$d/redis.conf" <<-EOF
		bind 127.0.0.1
		port $port
		cluster-enabled yes
		cluster-port $((port + 100))
		cluster-config-file $d/nodes.conf
		cluster-node-timeout 2000
		dir $d
		logfile ""
		daemonize no
		save ""
		appendonly no
	EOF
	spawn "redis$i" "$d/server.log" redis-server "$d/redis.conf"
}

ch_addrs() { local p out=; for p in "${ch_ports[@]}"; do out+=${out:+,}127.0.0.1:$p; done; echo "$out"; }
redis_addrs() { local p out=; for p in "${redis_ports[@]}"; do out+=${out:+,}127.0.0.1:$p; done; echo "$out"; }

# wings_env: the environment every Wings process of the cluster runs with.
wings_env() {
	export WINGS_CLICKHOUSE__ADDRS=$(ch_addrs) WINGS_CLICKHOUSE__CLUSTER=$cluster
	export WINGS_REDIS__MODE=cluster WINGS_REDIS__ADDRS=$(redis_addrs)
	local team var
	for team in video album star; do
		var=WINGS_UPSTREAMS__${team^^}__BASE_URL
		export "$var"=http://127.0.0.1:$mock_port
	done
}

start_wings() {
	local i=$1 port=${wings_ports[$1 - 1]}
	mkdir -p "$base/wings$i"
	(cd "$root" && WINGS_SERVER__ADDR=127.0.0.1:$port spawn "wings$i" "$base/wings$i/server.log" "$bin" serve)
	wait_for "Wings $i on $port" 60 curl -fsS "http://127.0.0.1:$port/readyz"
}

start_nginx() {
	local d=$base/nginx p servers=
	mkdir -p "$d/tmp"
	# max_fails=0: an instance is never taken out of the group. A 503 is
	# an answer about the data (ClickHouse shard down), not about the
	# instance, and a dead instance refuses at once on loopback, so each
	# request simply moves on to the next one.
	for p in "${wings_ports[@]}"; do servers+="        server 127.0.0.1:$p max_fails=0;"$'\n'; done
	cat >"$d/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log warn;
		events { worker_connections 1024; }
		http {
		    access_log off;
		    client_body_temp_path $d/tmp/body;
		    proxy_temp_path $d/tmp/proxy;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    scgi_temp_path $d/tmp/scgi;
		    upstream wings {
		$servers        keepalive 32;
		    }
		    server {
		        listen 127.0.0.1:$nginx_port;
		        location / {
		            proxy_pass http://wings;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		            proxy_set_header Host \$host;
		            proxy_set_header X-Forwarded-For \$remote_addr;
		            proxy_connect_timeout 1s;
		            proxy_read_timeout 10s;
		            # Only idempotent requests move on (nginx never retries
		            # a POST unless told to with non_idempotent).
		            proxy_next_upstream error timeout http_502 http_503;
		            proxy_next_upstream_tries 3;
		        }
		    }
		}
	EOF
	spawn nginx "$d/server.log" nginx -p "$d" -c "$d/nginx.conf"
	wait_for "nginx on $nginx_port" 15 curl -fsS "http://127.0.0.1:$nginx_port/readyz"
}

up() {
	"$root/scripts/deps.sh" redis clickhouse nginx zookeeper
	[ -x "$bin" ] || (cd "$root" && make build >/dev/null)
	local n p
	for n in $(names); do
		if p=$(pidof_name "$n"); then die "$n is already running (pid $p): run down first"; fi
	done
	for p in $zk_port "${ch_ports[@]}" "${redis_ports[@]}" "${wings_ports[@]}" $mock_port $nginx_port; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "127.0.0.1:$p is in use"; fi
	done
	rm -rf "$base"
	mkdir -p "$base"
	local t0=$SECONDS
	start_zk
	local i
	for i in 0 1 2 3; do start_ch "$i"; done
	for i in 1 2 3 4 5 6; do start_redis "$i"; done
	for i in 0 1 2 3; do wait_for "ClickHouse ch$i on ${ch_ports[$i]} (log: $base/ch$i/log)" 90 ch_answers "${ch_ports[$i]}"; done
	for p in "${redis_ports[@]}"; do wait_for "Redis on $p" 15 redis-cli -p "$p" ping; done
	local nodes=()
	for p in "${redis_ports[@]}"; do nodes+=("127.0.0.1:$p"); done
	redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$base/redis-create.log" 2>&1 ||
		{ cat "$base/redis-create.log" >&2; die "redis-cli --cluster create failed"; }
	wait_for "Redis Cluster state ok" 30 bash -c "redis-cli -p ${redis_ports[0]} cluster info | grep -q 'cluster_state:ok'"
	wings_env
	(cd "$root" && "$bin" migrate >"$base/migrate.log" 2>&1) || { cat "$base/migrate.log" >&2; die "migrate failed"; }
	if [ "${DEMO_ROWS:-200000}" != 0 ]; then
		(cd "$root" && "$bin" seed-events --if-empty --rows "${DEMO_ROWS:-200000}" --days 30 >"$base/seed.log" 2>&1) ||
			{ cat "$base/seed.log" >&2; die "seed-events failed"; }
	fi
	spawn mock "$base/mock/server.log" "$bin" mock-upstream --addr "127.0.0.1:$mock_port"
	for i in 1 2 3; do start_wings "$i"; done
	start_nginx
	echo "cluster up in $((SECONDS - t0))s"
	echo "CLICKHOUSE_ADDRS=$(ch_addrs)"
	echo "REDIS_ADDRS=$(redis_addrs)"
	echo "WINGS_URL=http://127.0.0.1:$nginx_port"
}

down() {
	local n
	# Front to back: nginx and Wings first, so nothing queries a dying store.
	for n in $(names | tac); do stop_name "$n"; done
	rm -rf "$base"
	echo "cluster down"
}

status() {
	local n p
	for n in $(names); do
		if p=$(pidof_name "$n"); then echo "$n $p running"; else echo "$n - stopped"; fi
	done
}

# start_one NAME: start one stopped process of the cluster again.
start_one() {
	local n=$1 p
	if p=$(pidof_name "$n"); then echo "$n $p running"; return; fi
	case $n in
	wings[1-3]) wings_env; start_wings "${n#wings}" ;;
	nginx) start_nginx ;;
	zk) start_zk ;;
	ch[0-3]) start_ch "${n#ch}"; wait_for "ClickHouse $n" 90 ch_answers "${ch_ports[${n#ch}]}" ;;
	redis[1-6]) start_redis "${n#redis}"; wait_for "Redis $n" 15 redis-cli -p "${redis_ports[${n#redis} - 1]}" ping ;;
	*) die "start: unknown process '$n' (want wings1..3, ch0..3, redis1..6, nginx, zk)" ;;
	esac
	echo "$n $(pidof_name "$n") running"
}

case ${1:-} in
up) up ;;
start) [ $# -eq 2 ] || { echo "usage: $0 start NAME" >&2; exit 2; }; start_one "$2" ;;
down) down ;;
status) status ;;
*) echo "usage: $0 up|down|status|start NAME" >&2; exit 2 ;;
esac

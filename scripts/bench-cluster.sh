#!/usr/bin/env bash
# make bench-cluster: the dashboards' questions on a 2-shard ClickHouse
# cluster against one node holding the same events (bench/cluster; see
# docs/benchmarks.md and docs/scale-out.md).
#
#   1. one ClickHouse 18.16 on 127.0.0.1:BENCH_CH_PORT (default 19600,
#      scripts/svc.sh) with system.query_log on; DEMO_ROWS events (default
#      4,000,000, seed 42) over 90 days, BENCH_LATEST_SHARE (0.25) of them
#      today, loaded into it by `wings seed-events`;
#   2. the 2x2 cluster of scripts/cluster.sh, every port moved by
#      BENCH_CLUSTER_OFFSET (default 1000: 30xxx, so it never meets the
#      default cluster on 29xxx), migrated with no demo events; its Wings
#      instances are stopped, so only the benchmark queries it;
#   3. the single node's events copied into the cluster's Distributed
#      table (INSERT ... SELECT FROM remote(), insert_distributed_sync):
#      the same rows on both, spread by cityHash64(user_id);
#   4. bench/cluster: BENCH_N calls (default 40, at most BENCH_MAX_TIME per
#      question) of each question on both, then rows per shard from
#      system.query_log on every server.
# Both are stopped (by PID) and their data removed at the end. About
# 5 minutes on the 2-core machine; not part of make test.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
port=${BENCH_CH_PORT:-19600}
offset=${BENCH_CLUSTER_OFFSET:-1000}
rows=${DEMO_ROWS:-4000000}
latest_share=${BENCH_LATEST_SHARE:-0.25}
db=wings # the default config's database, which cluster.sh migrates
t0=$SECONDS

make --no-print-directory build
dir=$root/.data/clickhouse-$port
cluster_base=$root/.data/cluster-$offset
cleanup() {
	CLUSTER_PORT_OFFSET=$offset scripts/cluster.sh down >/dev/null 2>&1 || true
	scripts/svc.sh stop clickhouse "$port" || true
	rm -rf "$dir"
}
trap cleanup EXIT

# query_log and log_queries for the single node: files ClickHouse merges
# into svc.sh's config.xml and users.xml (the cluster's config has both).
mkdir -p "$dir/config.d" "$dir/users.d"
cat >"$dir/config.d/query_log.xml" <<-EOF
	<yandex><query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log></yandex>
EOF
cat >"$dir/users.d/log_queries.xml" <<-EOF
	<yandex><profiles><default><log_queries>1</log_queries></default></profiles></yandex>
EOF
single=$(scripts/svc.sh start clickhouse "$port" | tail -n 1)
clickhouse-client --port "$port" -q "DROP DATABASE IF EXISTS $db"
WINGS_CLICKHOUSE__ADDR=$single bin/wings migrate >/dev/null
echo "seeding $rows events over 90 days into the single node $single"
WINGS_CLICKHOUSE__ADDR=$single bin/wings seed-events --rows "$rows" --days 90 --latest-share "$latest_share" --seed 42 2>/dev/null

echo "starting the cluster (CLUSTER_PORT_OFFSET=$offset)"
out=$(DEMO_ROWS=0 CLUSTER_PORT_OFFSET=$offset scripts/cluster.sh up)
echo "$out" | tail -n 4
addrs=$(echo "$out" | sed -n 's/^CLICKHOUSE_ADDRS=//p')
initiator=${addrs%%,*}
# The Wings instances' scheduler jobs (precompute, spans, funnel
# snapshots) would query the cluster during the measurement.
for n in wings1 wings2 wings3; do
	p=$(cat "$cluster_base/$n/pid")
	kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"
	while [ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; do sleep 0.1; done
done

echo "copying the events into the cluster through $initiator"
cols="event_time, business_line, event, user_id, item, platform, region, value"
clickhouse-client --host 127.0.0.1 --port "${initiator##*:}" --insert_distributed_sync=1 --max_memory_usage=4000000000 \
	-q "INSERT INTO $db.events ($cols) SELECT $cols FROM remote('$single', $db.events)"

go run ./bench/cluster -single "$single" -cluster "$addrs" -db "$db" -n "${BENCH_N:-40}" -max-time "${BENCH_MAX_TIME:-60s}"
echo "bench-cluster done in $((SECONDS - t0))s (DEMO_ROWS=$rows)"

#!/usr/bin/env bash
# make bench-analytics: load 120M events over 90 days into a project-local
# ClickHouse 18.16 on 127.0.0.1:19300 (34M on the latest day, the largest
# line > 10M of them; ~1M a day over the 89 days before, so the 90-day
# question reads real history), then time every dashboard question
# uncached, cached and naively on the raw table (bench/analytics). Not part of make test: loading takes
# minutes. The data stays under .data/clickhouse-19300 for re-runs
# (BENCH_RELOAD=1 reloads); the server is stopped at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
port=${BENCH_CH_PORT:-19300}
db=wings_bench
rows=${BENCH_ROWS:-120000000}       # 34M on the latest day (video ~30% -> >10M), 86M over the 89 days before
days=${BENCH_DAYS:-90}
latest_share=${BENCH_LATEST_SHARE:-0.285}
make --no-print-directory build
addr=$(scripts/svc.sh start clickhouse "$port" | tail -n 1)
trap 'scripts/svc.sh stop clickhouse "$port" || true' EXIT
export WINGS_ENV=local WINGS_CLICKHOUSE__ADDR=$addr WINGS_CLICKHOUSE__DATABASE=$db
if [ "${BENCH_RELOAD:-}" = 1 ]; then
	clickhouse-client --port "$port" -q "DROP DATABASE IF EXISTS $db"
fi
bin/wings migrate
bin/wings seed-events --if-empty --rows "$rows" --days "$days" --latest-share "$latest_share" --users 3000000
# No OPTIMIZE: production never runs one either. Measure once the
# background merges of the load have settled (bounded wait), as a server
# with a steady insert stream would look between merges.
for _ in $(seq 1 120); do
	[ "$(clickhouse-client --port "$port" -q "SELECT count() FROM system.merges WHERE database = '$db'")" = 0 ] && break
	sleep 1
done
go run ./bench/analytics -addr "$addr" -db "$db" -n "${BENCH_N:-20}"

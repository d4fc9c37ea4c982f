#!/usr/bin/env bash
# make bench-analytics: load >= 30M events over 30 days into a project-local
# ClickHouse 18.16 on 127.0.0.1:19300 (largest line > 10M rows on the latest
# day), then time every dashboard question uncached, cached and naively on
# the raw table (bench/analytics). Not part of make test: loading takes
# minutes. The data stays under .data/clickhouse-19300 for re-runs
# (BENCH_RELOAD=1 reloads); the server is stopped at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
port=${BENCH_CH_PORT:-19300}
db=wings_bench
rows=${BENCH_ROWS:-45000000}        # 34M on the latest day (video ~30% -> >10M), 11M over 29 days before
latest_share=${BENCH_LATEST_SHARE:-0.76}
make --no-print-directory build
addr=$(scripts/svc.sh start clickhouse "$port" | tail -n 1)
trap 'scripts/svc.sh stop clickhouse "$port" || true' EXIT
export WINGS_ENV=local WINGS_CLICKHOUSE__ADDR=$addr WINGS_CLICKHOUSE__DATABASE=$db
if [ "${BENCH_RELOAD:-}" = 1 ]; then
	clickhouse-client --port "$port" -q "DROP DATABASE IF EXISTS $db"
fi
bin/wings migrate
bin/wings seed-events --if-empty --rows "$rows" --days 30 --latest-share "$latest_share" --users 3000000
clickhouse-client --port "$port" -q "OPTIMIZE TABLE $db.agg_line_hour FINAL" || true
go run ./bench/analytics -addr "$addr" -db "$db" -n "${BENCH_N:-20}"

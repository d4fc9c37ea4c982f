#!/usr/bin/env bash
# make bench-analytics: load 120M events over 90 days into a project-local
# ClickHouse 18.16 on 127.0.0.1:19300 (34M on the latest day, the largest
# line > 10M of them; ~1M a day over the 89 days before), thicken the 89
# history days to ~5M a day (BENCH_HISTORY_COPIES, below), so the 90-day
# question reads real history, then time every dashboard question
# uncached, cached and naively on the raw table (bench/analytics). Not part
# of make test: loading takes 40-50 minutes. The data stays under
# .data/clickhouse-19300 for re-runs (BENCH_RELOAD=1 reloads); the server
# is stopped at the end.
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
# Thicken the history: the generator loads ~1M rows a day before the latest
# day (a 2-core machine cannot generate 900M+ rows in a benchmark run), so
# each history day is inserted BENCH_HISTORY_COPIES more times with user
# ids shifted by k x 100,000,000 (new users: UVs grow with the copies).
# Server-side INSERT ... SELECT, one day at a time (one part per table),
# through every materialized view like any insert; each (copy, day) is
# skipped when already there, so an interrupted run resumes.
copies=${BENCH_HISTORY_COPIES:-4}
tz=${BENCH_TZ:-Asia/Shanghai} # analytics.timezone of WINGS_ENV=local
latest=$(clickhouse-client --port "$port" -q "SELECT max(toDate(event_time, '$tz')) FROM $db.events")
history=$(clickhouse-client --port "$port" -q "SELECT DISTINCT toDate(event_time, '$tz') AS d FROM $db.events WHERE d < toDate('$latest') AND user_id < 100000000 ORDER BY d")
for k in $(seq 1 "$copies"); do
	shift_by=$((k * 100000000))
	added=0
	for d in $history; do
		range="event_time >= toDateTime('$d 00:00:00', '$tz') AND event_time < toDateTime('$(date -d "$d +1 day" +%F) 00:00:00', '$tz')"
		have=$(clickhouse-client --port "$port" -q "SELECT count() FROM $db.events WHERE $range AND user_id >= $shift_by AND user_id < $((shift_by + 100000000))")
		[ "$have" != 0 ] && continue
		clickhouse-client --port "$port" -q "INSERT INTO $db.events (event_time, business_line, event, user_id, item, platform, region, value)
			SELECT event_time, business_line, event, user_id + $shift_by, item, platform, region, value
			FROM $db.events WHERE $range AND user_id < 100000000"
		added=$((added + 1))
	done
	echo "history copy $k/$copies: $added days inserted"
done
# No OPTIMIZE: production never runs one either. Measure once the
# background merges of the load have settled (bounded wait), as a server
# with a steady insert stream would look between merges.
for _ in $(seq 1 120); do
	[ "$(clickhouse-client --port "$port" -q "SELECT count() FROM system.merges WHERE database = '$db'")" = 0 ] && break
	sleep 1
done
go run ./bench/analytics -addr "$addr" -db "$db" -n "${BENCH_N:-20}"

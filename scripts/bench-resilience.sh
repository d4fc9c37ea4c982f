#!/usr/bin/env bash
# make bench, resilience stage: GET /api/video/:id on wings against the mock
# upstream teams, healthy and then with team C (stars) answering 20% HTTP
# 500s and team B (album) 5 ms slower: success ratio, degraded ratio
# (answers listing "degraded":["stars"]) and p50/p99 side by side.
# Everything is bounded; every process started here is stopped on exit.
#
# Knobs: BENCH_RES_CONC (32), BENCH_RES_DURATION (8s per run),
# BENCH_RES_REQUESTS (100000 per run), BENCH_RES_FAULTS (the faults JSON).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
conc=${BENCH_RES_CONC:-32}
duration=${BENCH_RES_DURATION:-8s}
requests=${BENCH_RES_REQUESTS:-100000}
faults=${BENCH_RES_FAULTS:-'{"star":{"error_rate":0.2},"album":{"latency":"5ms"}}'}

bench_name=wings-bench-res
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

[ -x bin/wings ] || make build
$GO build -o bin/bench-resilience ./bench/resilience
mock_port=$(free_port)
wings_port=$(free_port)
while [ "$wings_port" = "$mock_port" ]; do wings_port=$(free_port); done
mock=http://127.0.0.1:$mock_port
server=http://127.0.0.1:$wings_port

echo "== resilience: /api/video/:id healthy vs stars 20% errors + album +5ms"
bin/wings mock-upstream --addr "127.0.0.1:$mock_port" --not-found-ids "" >"$work/mock.log" 2>&1 &
pids+=($!)
WINGS_ENV=test WINGS_LOG__LEVEL=error WINGS_SERVER__ADDR="127.0.0.1:$wings_port" \
	WINGS_UPSTREAMS__VIDEO__BASE_URL="$mock" WINGS_UPSTREAMS__ALBUM__BASE_URL="$mock" \
	WINGS_UPSTREAMS__STAR__BASE_URL="$mock" \
	bin/wings serve >"$work/wings.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	if curl -fsS "$server/readyz" >/dev/null 2>&1 && curl -fsS "$mock/_mock/stats" >/dev/null 2>&1; then break; fi
	sleep 0.1
done
if ! timeout 120 bin/bench-resilience -server "$server" -mock "$mock" -faults "$faults" \
	-c "$conc" -d "$duration" -n "$requests"; then
	echo "resilience run failed; logs:" >&2
	tail -n 20 "$work"/*.log >&2
	exit 1
fi
echo "(stars are optional: a failed stars call is retried once, then the answer degrades;"
echo " success = HTTP 200, degraded = 200 listing \"degraded\":[\"stars\"])"
echo "wings_upstream_retries_total{upstream=\"star\"} $(curl -fsS "$server/metrics" | awk '/^wings_upstream_retries_total\{upstream="star"\}/ {print $2}')"

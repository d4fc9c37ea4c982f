#!/usr/bin/env bash
# make bench: the end-to-end load comparison of GET /api/video/:id (Wings vs
# a hand-written echo + net/http + encoding/json aggregator, both against the
# same mock upstream teams on loopback), then the hot-path micro-benchmarks.
# Everything is bounded; every process started here is stopped on exit.
#
# Knobs (environment): BENCH_CONC (32), BENCH_ROUNDS (3), BENCH_DURATION (8s,
# per round), BENCH_REQUESTS (200000, per round), BENCH_WARMUP (2s),
# BENCH_IDS (1-1000), BENCH_BENCHTIME (200ms, per micro-benchmark),
# BENCH_SKIP_LOAD=1 or BENCH_SKIP_MICRO=1 to run one half.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}

conc=${BENCH_CONC:-32}
rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-8s}
requests=${BENCH_REQUESTS:-200000}
warmup=${BENCH_WARMUP:-2s}
ids=${BENCH_IDS:-1-1000}
benchtime=${BENCH_BENCHTIME:-200ms}

bench_name=wings-bench
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

if [ "${BENCH_SKIP_LOAD:-}" != 1 ]; then
	echo "== building"
	[ -x bin/wings ] || make build
	$GO build -o bin/handwritten ./bench/handwritten
	$GO build -o bin/loadgen ./bench/loadgen

	mock_port=$(free_port)
	wings_port=$(free_port)
	hand_port=$(free_port)
	while [ "$wings_port" = "$mock_port" ]; do wings_port=$(free_port); done
	while [ "$hand_port" = "$mock_port" ] || [ "$hand_port" = "$wings_port" ]; do hand_port=$(free_port); done
	mock=http://127.0.0.1:$mock_port

	echo "== starting mock upstream ($mock), wings (:$wings_port) and handwritten (:$hand_port)"
	bin/wings mock-upstream --addr "127.0.0.1:$mock_port" --not-found-ids "" >"$work/mock.log" 2>&1 &
	pids+=($!)
	WINGS_ENV=test WINGS_LOG__LEVEL=warn WINGS_SERVER__ADDR="127.0.0.1:$wings_port" \
		WINGS_UPSTREAMS__VIDEO__BASE_URL="$mock" WINGS_UPSTREAMS__ALBUM__BASE_URL="$mock" \
		WINGS_UPSTREAMS__STAR__BASE_URL="$mock" \
		bin/wings serve >"$work/wings.log" 2>&1 &
	wings_pid=$!
	pids+=("$wings_pid")
	bin/handwritten -addr "127.0.0.1:$hand_port" -upstream "$mock" >"$work/handwritten.log" 2>&1 &
	hand_pid=$!
	pids+=("$hand_pid")

	echo "== load: GET /api/video/{id}, wings vs handwritten"
	if ! timeout 170 bin/loadgen \
		-ready "$mock/_mock/stats,http://127.0.0.1:$wings_port/readyz,http://127.0.0.1:$hand_port/healthz" \
		-target "wings=http://127.0.0.1:$wings_port/api/video/{id}@$wings_pid" \
		-target "handwritten=http://127.0.0.1:$hand_port/api/video/{id}@$hand_pid" \
		-c "$conc" -n "$requests" -d "$duration" -rounds "$rounds" -warmup "$warmup" -ids "$ids"; then
		echo "load run failed; server logs:" >&2
		tail -n 20 "$work"/*.log >&2
		exit 1
	fi
	echo "(throughput is relative to handwritten; target: wings ≥ 0.90x. CPU µs/req is the"
	echo " server process's own CPU time per request: it does not depend on the other load.)"
	cleanup_servers() {
		local p
		for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
		for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
		pids=()
	}
	cleanup_servers
fi

if [ "${BENCH_SKIP_MICRO:-}" != 1 ]; then
	echo
	echo "== micro-benchmarks (-benchtime $benchtime)"
	pkgs=$($GO list -f '{{if .TestGoFiles}}{{.ImportPath}}{{end}}{{if .XTestGoFiles}} {{.ImportPath}}{{end}}' ./framework/... ./app/... ./bench/stack |
		xargs -n1 2>/dev/null | sort -u)
	bench_pkgs=()
	for p in $pkgs; do
		dir=$($GO list -f '{{.Dir}}' "$p")
		if grep -qs '^func Benchmark' "$dir"/*_test.go; then bench_pkgs+=("$p"); fi
	done
	timeout 300 "$GO" test -run '^$' -bench . -benchmem -benchtime "$benchtime" "${bench_pkgs[@]}"
fi

# Cache stage (scripts/bench-cache.sh): cache hit vs uncached vs bare echo.
if [ "${BENCH_SKIP_CACHE:-}" != 1 ]; then
	echo
	scripts/bench-cache.sh
fi

# Resilience stage (scripts/bench-resilience.sh): success ratio, degraded
# ratio and p99 healthy vs stars at 20% errors and album +5 ms.
if [ "${BENCH_SKIP_RESILIENCE:-}" != 1 ]; then
	echo
	scripts/bench-resilience.sh
fi

# Tracing stage (scripts/bench-tracing.sh): CPU per request with tracing
# off, at 1% and at 100% sampling, and the ratios.
if [ "${BENCH_SKIP_TRACING:-}" != 1 ]; then
	echo
	scripts/bench-tracing.sh
fi

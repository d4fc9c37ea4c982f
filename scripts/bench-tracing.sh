#!/usr/bin/env bash
# Tracing stage of make bench: the server CPU per GET /api/video/:id request
# with tracing off, at 1% and at 100% sampling, measured in one run.
#
# Three `bin/wings serve` processes, identical but for tracing.*, call the
# same mock upstream teams; the traced ones export over OTLP/HTTP to
# bench/otlpsink, a loopback collector that discards what it receives (so
# the servers pay for encoding and sending their spans). bench/loadgen
# loads them in alternating rounds at the same concurrency and reads each
# server's own CPU time (utime+stime, /proc/PID/stat) around its rounds; the
# ratio is, per round, a server's CPU per request over tracing off's in the
# same round, and the median of those over the rounds (rounds run back to
# back share the machine's state; medians of each server's rounds taken
# apart moved 1.10x-1.24x between two runs of the same build). The user-space
# part is shown too. Budgets: at most 1.02x at 1%, at most 1.10x at 100%.
#
# Then the in-process Go benchmarks of one request (-benchmem), off / 1% /
# 100% with a discarding exporter: BenchmarkTracingStack (framework/wings,
# the middleware chain and a trivial handler) and BenchmarkVideoDetailTracing
# (app, /api/video/42 with its three upstream calls).
#
# Knobs: BENCH_TRACING_ROUNDS (9), BENCH_TRACING_DURATION (4s per round),
# BENCH_CONC (32), BENCH_TRACING_TIME (1s per Go benchmark),
# BENCH_TRACING_SKIP_GO=1 (load only).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
bench_name=wings-bench-tracing
# shellcheck source=scripts/bench-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"

rounds=${BENCH_TRACING_ROUNDS:-9}
duration=${BENCH_TRACING_DURATION:-4s}
conc=${BENCH_CONC:-32}

echo "== tracing: building"
make -s build
$GO build -o bin/loadgen ./bench/loadgen
$GO build -o bin/otlpsink ./bench/otlpsink

ports=()
while [ ${#ports[@]} -lt 5 ]; do
	p=$(free_port)
	case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
mock_port=${ports[0]} sink_port=${ports[1]}
mock=http://127.0.0.1:$mock_port

bin/wings mock-upstream --addr "127.0.0.1:$mock_port" --not-found-ids "" >"$work/mock.log" 2>&1 &
pids+=($!)
bin/otlpsink -addr "127.0.0.1:$sink_port" >"$work/sink.log" 2>&1 &
pids+=($!)

# serve NAME PORT ENABLED RATIO starts one server and records its PID.
declare -A spid sport
serve() {
	WINGS_ENV=test WINGS_LOG__LEVEL=warn WINGS_SERVER__ADDR="127.0.0.1:$2" \
		WINGS_UPSTREAMS__VIDEO__BASE_URL="$mock" WINGS_UPSTREAMS__ALBUM__BASE_URL="$mock" \
		WINGS_UPSTREAMS__STAR__BASE_URL="$mock" \
		WINGS_TRACING__ENABLED="$3" WINGS_TRACING__SAMPLE_RATIO="$4" \
		WINGS_TRACING__PROTOCOL=http WINGS_TRACING__ENDPOINT="127.0.0.1:$sink_port" \
		bin/wings serve >"$work/$1.log" 2>&1 &
	spid[$1]=$!
	sport[$1]=$2
	pids+=($!)
}
serve off "${ports[2]}" false 0
serve sample1 "${ports[3]}" true 0.01
serve sample100 "${ports[4]}" true 1

url() { echo "http://127.0.0.1:${sport[$1]}"; }
echo "== tracing: load, GET /api/video/{id}, tracing off / 1% / 100% (OTLP/HTTP to a discarding collector)"
if ! out=$(timeout 300 bin/loadgen \
	-ready "$mock/_mock/stats,$(url off)/readyz,$(url sample1)/readyz,$(url sample100)/readyz" \
	-target "sample1=$(url sample1)/api/video/{id}@${spid[sample1]}" \
	-target "sample100=$(url sample100)/api/video/{id}@${spid[sample100]}" \
	-target "off=$(url off)/api/video/{id}@${spid[off]}" \
	-c "$conc" -d "$duration" -rounds "$rounds" -warmup 2s); then
	echo "$out"
	echo "tracing load run failed; server logs:" >&2
	tail -n 20 "$work"/*.log >&2
	exit 1
fi
echo "$out"
exported=$(curl -fsS "$(url sample100)/metrics" | awk '$1 == "wings_tracing_spans_exported_total" { print $2 }')
dropped=$(curl -fsS "$(url sample100)/metrics" | awk '$1 == "wings_tracing_spans_dropped_total" { print $2 }')
echo "100% server: spans exported ${exported:-?}, dropped ${dropped:-?}; collector: $(curl -fsS "http://127.0.0.1:$sink_port/stats")"
echo "$out" | awk '
/^cpu-ratio / { tot[$2] = $4; usr[$2] = $6; span[$2] = $8 }
END {
	if (!(tot["sample100"] > 0)) { print "tracing bench: no CPU figures"; exit 1 }
	printf "server CPU per request vs off (median of the per-round ratios): 1%% sampling %.3fx (budget 1.02x), 100%% sampling %.3fx (budget 1.10x)\n",
		tot["sample1"], tot["sample100"]
	printf "user-space CPU only (tracing adds no system calls per request):  1%% sampling %.3fx, 100%% sampling %.3fx\n",
		usr["sample1"], usr["sample100"]
	printf "lowest-highest ratio of a round: 1%% sampling %s, 100%% sampling %s\n", span["sample1"], span["sample100"]
}'

if [ "${BENCH_TRACING_SKIP_GO:-}" != 1 ]; then
	echo
	echo "== tracing: Go benchmarks, one request in process (-benchmem)"
	timeout 600 "$GO" test -run '^$' -bench 'BenchmarkTracingStack|BenchmarkVideoDetailTracing' -benchmem \
		-benchtime "${BENCH_TRACING_TIME:-1s}" -count 1 ./framework/wings/ ./app/ | grep -E '^Benchmark'
fi

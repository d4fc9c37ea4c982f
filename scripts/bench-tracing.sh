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
# Then the same cost attributed from inside each traced server: a pprof CPU
# and allocation profile of it under load alone, the share of its samples
# with a tracing frame on the stack, plus the garbage collector's work in
# proportion to the bytes those frames allocate (see the stage below).
#
# Then the in-process Go benchmarks of one request (-benchmem), off / 1% /
# 100% with a discarding exporter: BenchmarkTracingStack (framework/wings,
# the middleware chain and a trivial handler) and BenchmarkVideoDetailTracing
# (app, /api/video/42 with its three upstream calls).
#
# Knobs: BENCH_TRACING_ROUNDS (9), BENCH_TRACING_DURATION (4s per round),
# BENCH_CONC (32), BENCH_TRACING_TIME (1s per Go benchmark),
# BENCH_TRACING_PROFILE (15, seconds of each attribution profile),
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
while [ ${#ports[@]} -lt 7 ]; do
	p=$(free_port)
	case " ${ports[*]} " in *" $p "*) ;; *) ports+=("$p") ;; esac
done
mock_port=${ports[0]} sink_port=${ports[1]} pprof1_port=${ports[5]} pprof100_port=${ports[6]}
mock=http://127.0.0.1:$mock_port

bin/wings mock-upstream --addr "127.0.0.1:$mock_port" --not-found-ids "" >"$work/mock.log" 2>&1 &
pids+=($!)
bin/otlpsink -addr "127.0.0.1:$sink_port" >"$work/sink.log" 2>&1 &
pids+=($!)

# serve NAME PORT ENABLED RATIO [PPROF] starts one server and records its PID.
declare -A spid sport
serve() {
	WINGS_SERVER__PPROF_ADDR="${5:-}" WINGS_ENV=test WINGS_LOG__LEVEL=warn WINGS_SERVER__ADDR="127.0.0.1:$2" \
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
serve sample1 "${ports[3]}" true 0.01 "127.0.0.1:$pprof1_port"
serve sample100 "${ports[4]}" true 1 "127.0.0.1:$pprof100_port"

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

# Attribution: the same cost seen from inside each traced server, which the
# machine's noise moves far less (every part comes from one process in one
# period). T is the share of its CPU samples with a tracing frame on the
# stack (the OpenTelemetry SDK and API, framework/tracing, redisotel; the
# allocations those frames make, the GC assists they pay and the system
# calls of the export are in it); A is their share of the bytes it
# allocates; G the share of the background GC workers, whose work follows
# the bytes allocated, so G*A of it is tracing's. Tracing's cost over
# tracing off is then (T+G*A)/(1-T-G*A). What it cannot see: effects on the
# rest of the code (caches, scheduling), which the paired ratios above
# include along with the noise.
prof_s=${BENCH_TRACING_PROFILE:-15}
tracing_frames='go\.opentelemetry\.io/|wings/framework/tracing\.|redisotel'
share() { # share PROFILE [pprof flags...]: the percentage a focused top accounts for
	"$GO" tool pprof -top -nodefraction=0 "${@:2}" "$1" 2>/dev/null | awk '/^Showing nodes accounting for/ { sub("%", "", $6); print $6; exit }'
}
# attribute NAME PPROF_PORT BUDGET profiles server NAME under load alone.
attribute() {
	bin/loadgen -target "$1=$(url "$1")/api/video/{id}" -c "$conc" -d "$((prof_s + 3))s" -rounds 1 -warmup 0s -verify=false >/dev/null &
	local load=$! t g a samples
	sleep 1
	curl -fsS -o "$work/$1.cpu" "http://127.0.0.1:$2/debug/pprof/profile?seconds=$prof_s"
	curl -fsS -o "$work/$1.allocs" "http://127.0.0.1:$2/debug/pprof/allocs"
	wait "$load"
	t=$(share "$work/$1.cpu" -focus "$tracing_frames")
	g=$(share "$work/$1.cpu" -focus 'runtime\.gcBgMarkWorker')
	a=$(share "$work/$1.allocs" -sample_index=alloc_space -focus "$tracing_frames")
	# pprof samples at 100 Hz: "Total samples = 14.9s" is 1490 samples.
	samples=$("$GO" tool pprof -top "$work/$1.cpu" 2>/dev/null | awk '/Total samples =/ { for (i = 1; i <= NF; i++) if ($i == "=") { v = $(i + 1); sub("s$", "", v); print int(v * 100); exit } }')
	awk -v name="$1" -v t="${t:-0}" -v g="${g:-0}" -v a="${a:-0}" -v b="$3" -v s="${samples:-0}" 'BEGIN {
		t /= 100; g /= 100; a /= 100; c = t + g * a
		printf "%s: tracing frames %.1f%% of %d CPU samples and %.1f%% of bytes allocated, GC workers %.1f%%: attributed cost %.3fx (budget %s)\n",
			name, 100 * t, s, 100 * a, 100 * g, 1 + c / (1 - c), b
	}'
}
echo
echo "== tracing: attributed from inside each traced server (pprof, ${prof_s}s of load on it alone; a lower bound: what tracing costs outside its own frames is not seen)"
attribute sample1 "$pprof1_port" 1.02x
attribute sample100 "$pprof100_port" 1.10x

if [ "${BENCH_TRACING_SKIP_GO:-}" != 1 ]; then
	echo
	echo "== tracing: Go benchmarks, one request in process (-benchmem)"
	timeout 600 "$GO" test -run '^$' -bench 'BenchmarkTracingStack|BenchmarkVideoDetailTracing' -benchmem \
		-benchtime "${BENCH_TRACING_TIME:-1s}" -count 1 ./framework/wings/ ./app/ | grep -E '^Benchmark'
fi

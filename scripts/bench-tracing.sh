#!/usr/bin/env bash
# Tracing stage of make bench: server CPU per /api/video/42 request with
# tracing off, at 1% and at 100% sampling, measured in one run
# (BenchmarkVideoDetailTracing, in-process, upstreams over loopback, spans
# batched into a discarding exporter), and the ratios against off.
# Budgets: at most +2% at 1%, at most +10% at 100%.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
GO=${GO:-go}
out=$(timeout 600 "$GO" test -run '^$' -bench 'BenchmarkVideoDetailTracing' -benchmem -benchtime "${BENCH_TRACING_TIME:-3s}" -count 1 ./app/)
echo "$out" | grep -E '^Benchmark'
echo "$out" | awk '
/^BenchmarkVideoDetailTracing\// {
	split($1, p, "/"); sub(/-[0-9]+$/, "", p[2]); ns[p[2]] = $3
}
END {
	if (!("off" in ns)) { print "tracing bench: no result"; exit 1 }
	printf "tracing CPU per request vs off: 1%% sampling %.3fx (budget 1.02x), 100%% sampling %.3fx (budget 1.10x)\n",
		ns["ratio=0.01"] / ns["off"], ns["ratio=1"] / ns["off"]
}'

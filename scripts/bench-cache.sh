#!/usr/bin/env bash
# make bench, cache stage: GET /api/video/:id answered from the response
# cache (JSON, and JSONP with a new callback and timestamp per request) next
# to the uncached path and a bare echo handler returning a constant body of
# the same size, in the same run: over loopback HTTP (client and server on
# this machine) and in-process through ServeHTTP. Prints each throughput
# relative to the bare handler; target: cache hit >= 0.80x over loopback.
#
# Knobs: BENCH_CACHE_BENCHTIME (2s per case), BENCH_CACHE_COUNT (3 runs; the
# median is reported).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
GO=${GO:-go}
benchtime=${BENCH_CACHE_BENCHTIME:-2s}
count=${BENCH_CACHE_COUNT:-3}

echo "== cache: /api/video/:id hit vs uncached vs bare echo (-benchtime $benchtime, median of $count)"
out=$(timeout 600 "$GO" test -run '^$' -bench 'Video' -benchtime "$benchtime" -count "$count" ./bench/cache)
echo "$out" | grep '^Benchmark'
echo "$out" | awk '
/^BenchmarkVideo/ {
	split($1, p, "/"); grp = p[1]; sub(/^BenchmarkVideo/, "", grp); name = p[2]; sub(/-[0-9]+$/, "", name)
	k = grp "/" name; n[k]++; v[k, n[k]] = $3
}
END {
	split("bare_echo hit_json hit_jsonp uncached", names, " ")
	split("Loopback InProcess", groups, " ")
	printf "\n%-10s %-10s %12s %10s %8s\n", "path", "case", "ns/op", "req/s", "vs bare"
	for (g = 1; g <= 2; g++) {
		for (i = 1; i <= 4; i++) {
			k = groups[g] "/" names[i]
			m = median(k)
			med[k] = m
			printf "%-10s %-10s %12.0f %10.0f %7.2fx\n", groups[g], names[i], m, 1e9 / m, med[groups[g] "/bare_echo"] / m
		}
	}
}
function median(k,   a, i, j, t, c) {
	c = n[k]
	for (i = 1; i <= c; i++) a[i] = v[k, i]
	for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return a[int((c + 1) / 2)]
}'
echo "(target: Loopback hit_json and hit_jsonp >= 0.80x of bare_echo)"

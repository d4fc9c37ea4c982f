#!/usr/bin/env bash
# Jaeger (v1.75.0, the Go tool pinned in tools/go.mod) for the tracing tests
# and `make run`.
#
#   scripts/jaeger.sh build   build once into .data/tools/jaeger-<hash of tools/go.sum>
#                             (skipped when present); prints the binary's path
#   scripts/jaeger.sh path    prints the binary's path; exit 1 when not built
#   scripts/jaeger.sh start [OTLP_HTTP_PORT QUERY_PORT]
#                             starts it on 127.0.0.1 (defaults 4318 and 16686;
#                             OTLP gRPC on OTLP_HTTP_PORT-1), in-memory storage;
#                             waits until the query API answers; prints
#                             "otlp=127.0.0.1:P query=http://127.0.0.1:Q"
#   scripts/jaeger.sh stop [OTLP_HTTP_PORT]   TERM, then KILL after 10s, by PID
#
# State (config, log, pid) lives in .data/jaeger-<OTLP_HTTP_PORT>/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hash=$(sha256sum "$root/tools/go.sum" | cut -c1-12)
bin=$root/.data/tools/jaeger-$hash

usage() { echo "usage: $0 build|path|start|stop [OTLP_HTTP_PORT QUERY_PORT]" >&2; exit 2; }
[ $# -ge 1 ] || usage

alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

case $1 in
build)
	if [ ! -x "$bin" ]; then
		mkdir -p "$root/.data/tools"
		# Bounded: a cold build takes 8-30 minutes on a loaded machine.
		(cd "$root/tools" && timeout 45m go build -trimpath -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
		mv "$bin.tmp" "$bin"
	fi
	echo "$bin"
	;;
path)
	[ -x "$bin" ] || { echo "jaeger not built: scripts/jaeger.sh build" >&2; exit 1; }
	echo "$bin"
	;;
start)
	[ -x "$bin" ] || { echo "jaeger not built: scripts/jaeger.sh build" >&2; exit 1; }
	http=${2:-4318} query=${3:-16686}
	grpc=$((http - 1))
	dir=$root/.data/jaeger-$http
	mkdir -p "$dir"
	if p=$(cat "$dir/jaeger.pid" 2>/dev/null) && alive "$p"; then
		echo "otlp=127.0.0.1:$http query=http://127.0.0.1:$query"
		exit 0
	fi
	cat >"$dir/config.yaml" <<YAML
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: 127.0.0.1:$query
    grpc:
      endpoint: 127.0.0.1:$((query - 1))
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$grpc
      http:
        endpoint: 127.0.0.1:$http
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
YAML
	setsid "$bin" --config "file:$dir/config.yaml" >"$dir/jaeger.log" 2>&1 </dev/null &
	echo $! >"$dir/jaeger.pid"
	for _ in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$query/api/services" >/dev/null 2>&1; then
			echo "otlp=127.0.0.1:$http query=http://127.0.0.1:$query"
			exit 0
		fi
		alive "$(cat "$dir/jaeger.pid")" || break
		sleep 0.1
	done
	echo "jaeger did not start; see $dir/jaeger.log" >&2
	tail -20 "$dir/jaeger.log" >&2
	exit 1
	;;
stop)
	http=${2:-4318}
	dir=$root/.data/jaeger-$http
	p=$(cat "$dir/jaeger.pid" 2>/dev/null) || exit 0
	if [[ $p =~ ^[0-9]+$ ]] && alive "$p"; then
		kill -TERM "$p"
		for _ in $(seq 1 100); do alive "$p" || break; sleep 0.1; done
		alive "$p" && kill -KILL "$p"
	fi
	rm -f "$dir/jaeger.pid"
	;;
*) usage ;;
esac

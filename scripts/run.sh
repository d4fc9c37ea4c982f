#!/usr/bin/env bash
# make run: start the mock upstream teams and the Wings server with the local
# config; Ctrl-C stops both.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=$root/bin/wings
[ -x "$bin" ] || make build

pids=()
redis_started=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "${ch_started:-}" ] || scripts/svc.sh stop clickhouse "$ch_started" || true
	[ -z "$redis_started" ] || scripts/svc.sh stop redis "$redis_started" || true
	[ -z "${jaeger_started:-}" ] || scripts/jaeger.sh stop || true
}
trap cleanup EXIT INT TERM

mock_addr=${MOCK_ADDR:-127.0.0.1:9090}
"$bin" mock-upstream --addr "$mock_addr" &
pids+=($!)
# The SSO login page the dashboards send a browser to (auth.login_url of
# conf/config.local.yaml); its signed APIs are not used by the local
# config's static providers, so any secret will do.
sso_addr=${SSO_ADDR:-127.0.0.1:9091}
mkdir -p "$root/.data"
WINGS_AUTH__APP_SECRET=${WINGS_AUTH__APP_SECRET:-local-dev-secret} "$bin" mock-sso --addr "$sso_addr" >"$root/.data/run-sso.log" 2>&1 &
pids+=($!)

# WINGS_ENV stays as given: unset means local, whose demo users are served
# only on a loopback WINGS_SERVER__ADDR.
# Redis for the cache (L2): use WINGS_REDIS__ADDR if given, else start one on
# 127.0.0.1:6390 (installed by scripts/deps.sh when missing); if that fails
# the cache runs in-process only.
if [ -z "${WINGS_REDIS__ADDR:-}" ]; then
	redis_port=${REDIS_PORT:-6390}
	was_running=$(scripts/svc.sh status redis "$redis_port" 2>/dev/null || true)
	if redis_addr=$(scripts/svc.sh start redis "$redis_port" 2>/tmp/wings-run-redis.log | tail -n 1) && [ -n "$redis_addr" ]; then
		export WINGS_REDIS__ADDR=$redis_addr
		[ "$was_running" = running ] || redis_started=$redis_port
		echo "Redis for the cache on $redis_addr"
	else
		echo "Redis could not be started (see /tmp/wings-run-redis.log): the cache runs in-process (L1) only"
	fi
fi
# ClickHouse for the analytics dashboards: WINGS_CLICKHOUSE__ADDR if given,
# else a project-local server on 127.0.0.1:19000 (Debian package, installed
# by scripts/deps.sh when missing), migrated and loaded once with ~1M demo
# events (kept under .data/); ingest-sim then keeps the realtime page moving.
if [ -z "${WINGS_CLICKHOUSE__ADDR:-}" ]; then
	ch_port=${CLICKHOUSE_PORT:-19000}
	ch_was=$(scripts/svc.sh status clickhouse "$ch_port" 2>/dev/null || true)
	if ch_addr=$(scripts/svc.sh start clickhouse "$ch_port" 2>/tmp/wings-run-clickhouse.log | tail -n 1) && [ -n "$ch_addr" ]; then
		export WINGS_CLICKHOUSE__ADDR=$ch_addr
		[ "$ch_was" = running ] || ch_started=$ch_port
	else
		echo "ClickHouse could not be started (see /tmp/wings-run-clickhouse.log): running without dashboards (/api/dash/* answer 503)"
	fi
fi
if [ -n "${WINGS_CLICKHOUSE__ADDR:-}" ]; then
	if "$bin" migrate && "$bin" seed-events --if-empty --rows "${DEMO_ROWS:-1000000}" --days 30; then
		"$bin" ingest-sim --rate "${INGEST_RATE:-200}" >/tmp/wings-run-ingest.log 2>&1 &
		pids+=($!)
		echo "ClickHouse on $WINGS_CLICKHOUSE__ADDR: dashboards under /api/dash/:biz, ingest-sim inserting live events"
	else
		echo "ClickHouse migrate or demo load failed: running without dashboards (/api/dash/* answer 503)"
	fi
fi
addr=${WINGS_SERVER__ADDR:-127.0.0.1:8080}
export WINGS_SERVER__ADDR=$addr
site_addr=${SITE_ADDR:-127.0.0.1:8081}
"$bin" demo-site --addr "$site_addr" --api "http://$addr" >"$root/.data/run-site.log" 2>&1 &
pids+=($!)
for team in video album star; do
	var=WINGS_UPSTREAMS__${team^^}__BASE_URL
	export "$var"="${!var:-http://$mock_addr}"
done

# Jaeger, when built (scripts/jaeger.sh build): every request traced into it.
traces="Traces:      off (scripts/jaeger.sh build, once, to trace every request into Jaeger)"
if scripts/jaeger.sh path >/dev/null 2>&1 && scripts/jaeger.sh start >"$root/.data/run-jaeger.log" 2>&1; then
	jaeger_started=1
	export WINGS_TRACING__ENABLED=${WINGS_TRACING__ENABLED:-true} WINGS_TRACING__SAMPLE_RATIO=${WINGS_TRACING__SAMPLE_RATIO:-1}
	export WINGS_TRACING__ENDPOINT=${WINGS_TRACING__ENDPOINT:-127.0.0.1:4318}
	traces="Traces:      Jaeger on 127.0.0.1 (OTLP 4318, query API 16686); the last request's trace:
                 curl -s 'http://127.0.0.1:16686/api/traces?service=${WINGS_APP__NAME:-wings-video-bff}&limit=1' | jq '.data[0].spans[] | {operationName, startTime, duration}'"
fi

cat <<MSG

  Wings is starting on http://$addr (mock upstream teams on http://$mock_addr)

  Dashboards:  open http://$addr/ in a browser and sign in on the mock SSO page
               (http://$sso_addr/login) as one of the demo users:
                 demo-video  (Video analyst: the video line)
                 demo-music  (Music analyst: the music line)
                 demo-admin  (Administrator: every line)
  Video page:  http://$site_addr/?id=42  (the demo PC site, another origin, JSONP)
  $traces

  Try:
    curl -s http://$addr/api/video/42
    curl -s 'http://$addr/api/video/42?callback=jQuery123&_=1700000000'
    curl -s 'http://$addr/api/video/42?fields=id,title,album.title'
    curl -s http://$addr/api/video/404        # team A does not know it: 404
    curl -s http://$addr/api/video/abc        # bad parameter: 400
    curl -s -H 'Authorization: Bearer demo-video' http://$addr/api/dash/video/realtime
    curl -s -H 'Authorization: Bearer demo-video' 'http://$addr/api/batch?part=/api/me&part=/api/dash/video/realtime&part=/api/dash/music/funnel'
    curl -s -H 'Authorization: Bearer demo-video' 'http://$addr/api/dash/video/analysis?granularity=day&platform=ios&metrics=pv,uv'
    curl -s http://$addr/readyz ; curl -s http://$addr/metrics | grep wings_

  Ctrl-C stops everything.

MSG
"$bin" serve &
pids+=($!)
wait -n "${pids[@]}"

#!/usr/bin/env bash
# make test: the front end's committed bundle checked against a rebuild, unit
# tests with the race detector, then integration and browser tests that
# start the real binary (and, where needed, real Redis/ClickHouse/etcd on
# loopback ports under .data/, stopped again at the end), then 60 s of the
# chaos soak (scripts/chaos.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "== web bundle (app/web/dist built from the locked packages)"
scripts/web.sh check
echo "== vet"
go vet ./...
echo "== build"
make --no-print-directory build
export WINGS_TEST_BIN=$root/bin/wings
# Jaeger (tools/go.mod) for the tracing end-to-end test: cached under
# .data/tools, built in the background while the other tests run.
mkdir -p .data
scripts/jaeger.sh build >.data/jaeger-build.log 2>&1 &
jaeger_build=$!

echo "== prometheus rules (promtool check + test rules)"
scripts/deps.sh promtool prometheus alertmanager blackbox nginx chromium # nginx: `nginx -t` of deploy/nginx/wings.conf (test/ops_deploy_test.go); chromium: test/web_test.go
promtool check config conf/prometheus/prometheus.yml
promtool check rules conf/prometheus/rules.yml
(cd conf/prometheus && promtool test rules rules_test.yml)
echo "== alertmanager routes and blackbox config"
scripts/alertmanager-check.sh
prometheus-blackbox-exporter --config.file=conf/blackbox/blackbox.yml --config.check

echo "== unit tests (-race)"
go test -race -count=1 ./framework/... ./app/... ./cmd/...
echo "== integration tests (-race)"
go test -race -count=1 ./test/...
# The dashboards again at another time of day: just after midnight in
# analytics.timezone, on a leap day (WINGS_TEST_NOW shifts the tests' and
# the servers' clocks: analytics.clock_offset).
echo "== dashboard tests at 2028-02-29 00:30 Asia/Shanghai"
WINGS_TEST_NOW=2028-02-29T00:30:00+08:00 go test -race -count=1 -run 'TestDashboards$|TestDashStale' ./test/
echo "== chaos soak, 60 s (scripts/chaos.sh; make chaos runs the full one)"
scripts/chaos.sh --duration 60s
echo "== traces end to end into a real Jaeger"
wait "$jaeger_build" || { cat .data/jaeger-build.log; exit 1; }
WINGS_REQUIRE_JAEGER=1 go test -race -count=1 -run TestTraceJaegerEndToEnd ./test/

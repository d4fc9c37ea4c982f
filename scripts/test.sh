#!/usr/bin/env bash
# make test: the front end's committed bundle checked against a rebuild, unit
# tests with the race detector, then integration and browser tests that
# start the real binary (and, where needed, real Redis/ClickHouse/etcd on
# loopback ports under .data/, stopped again at the end).
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

echo "== prometheus rules (promtool check + test rules)"
scripts/deps.sh promtool nginx chromium # nginx: `nginx -t` of deploy/nginx/wings.conf (test/ops_deploy_test.go); chromium: test/web_test.go
promtool check config conf/prometheus/prometheus.yml
promtool check rules conf/prometheus/rules.yml
(cd conf/prometheus && promtool test rules rules_test.yml)

echo "== unit tests (-race)"
go test -race -count=1 ./framework/... ./app/... ./cmd/...
echo "== integration tests (-race)"
go test -race -count=1 ./test/...

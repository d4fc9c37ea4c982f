#!/usr/bin/env bash
# make chaos: the chaos soak (test/chaos). A steady load on the video route,
# its JSONP form and the four dashboards of the real binary while Redis and
# ClickHouse are killed and restarted, an upstream goes down, another gets
# slow and its timeout is hot-reloaded through etcd, and the server is
# restarted without downtime. Prints a table per phase; exits 1 when any
# request was lost.
#
#   scripts/chaos.sh [--duration 8m] [--rate 60] ...   (test/chaos -h lists the flags)
#
# Redis, ClickHouse and etcd run through scripts/svc.sh on fixed loopback
# ports (6393, 19400, 2491 unless given), apart from the integration tests'
# ports. Process logs: .data/chaos/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
[ -x bin/wings ] && [ -z "$(find cmd framework app -name '*.go' -newer bin/wings -print -quit)" ] ||
	make --no-print-directory build
scripts/deps.sh redis clickhouse etcd
go build -o bin/chaos ./test/chaos
exec bin/chaos -bin bin/wings "$@"

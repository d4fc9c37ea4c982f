# Wings — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/wings
VERSION    := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildTime=$(BUILD_TIME)

.PHONY: build run test test-unit test-integration chaos release bench bench-analytics lint fmt clean web docs test-cluster

build: ## build bin/wings with version info
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wings

run: build ## start the mock upstream teams and the server with the local config
	scripts/run.sh

test: ## unit tests with -race, integration and browser tests against real binaries and services
	scripts/test.sh

web: ## rebuild the front end (web/ -> app/web/dist, committed) from the locked npm packages
	scripts/web.sh build

test-unit:
	$(GO) test -race -count=1 ./framework/... ./app/... ./cmd/...

test-integration: build
	$(GO) test -race -count=1 ./test/...

test-cluster: build ## failover tests on a local 2x2 ClickHouse, Redis Cluster and 3 Wings behind nginx (scripts/cluster.sh; ~5 min; .ci/run runs it after make test)
	scripts/cluster.sh up && WINGS_CLUSTER_TEST=1 $(GO) test -race -count=1 -v ./test/cluster/; rc=$$?; scripts/cluster.sh down; exit $$rc

chaos: build ## chaos soak: steady load while Redis, ClickHouse, upstreams, etcd and the server misbehave (8 min; table per phase)
	scripts/chaos.sh

release: ## versioned tarball with the binary, conf/, deploy/ and deploy scripts, plus a sha256, in dist/
	VERSION=$(VERSION) COMMIT=$(COMMIT) BUILD_TIME=$(BUILD_TIME) scripts/release.sh

bench-analytics: ## dashboards on >=30M ClickHouse rows: uncached, cached, naive raw (minutes; not in make test)
	scripts/bench-analytics.sh

.PHONY: bench-cluster
bench-cluster: ## the dashboards on a 2-shard ClickHouse vs one node, same events: p50/p99, rows per shard (~5 min; not in make test)
	scripts/bench-cluster.sh

bench: build ## hot-path micro-benchmarks and the end-to-end load comparison
	scripts/bench.sh

lint: ## gofmt, go vet, staticcheck, and the framework-never-imports-app rule
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@! $(GO) list -deps ./framework/... | grep -q "^$$($(GO) list -m)/app" || { echo "framework imports app"; exit 1; }
	@! $(GO) list -deps ./app/controller | grep -q "^$$($(GO) list -m)/app/dao" || { echo "app/controller imports app/dao"; exit 1; }

docs: ## regenerate docs/configuration-reference.md from the config structs (go test ./cmd/configdoc fails while it is stale)
	$(GO) run ./cmd/configdoc

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

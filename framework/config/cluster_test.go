package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestClusterKeysFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	cfg, _, err := load(t, dir,
		"WINGS_CLICKHOUSE__ADDRS=127.0.0.1:29101,127.0.0.1:29102",
		"WINGS_CLICKHOUSE__CLUSTER=wings_cluster",
		"WINGS_REDIS__MODE=cluster",
		"WINGS_REDIS__ADDRS=127.0.0.1:29301,127.0.0.1:29302,127.0.0.1:29303",
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ClickHouse.Servers(), []string{"127.0.0.1:29101", "127.0.0.1:29102"}; !reflect.DeepEqual(got, want) {
		t.Errorf("clickhouse servers = %v; want %v", got, want)
	}
	if cfg.ClickHouse.Cluster != "wings_cluster" {
		t.Errorf("clickhouse.cluster = %q; want wings_cluster", cfg.ClickHouse.Cluster)
	}
	if cfg.Redis.Mode != RedisCluster || len(cfg.Redis.Servers()) != 3 || !cfg.Redis.Enabled() {
		t.Errorf("redis = %+v; want cluster mode over 3 addrs", cfg.Redis)
	}
}

func TestSingleNodeDefaults(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	cfg, _, err := load(t, dir, "WINGS_CLICKHOUSE__ADDR=127.0.0.1:9000", "WINGS_REDIS__ADDR=127.0.0.1:6379")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ClickHouse.Servers(); !reflect.DeepEqual(got, []string{"127.0.0.1:9000"}) || cfg.ClickHouse.Cluster != "" {
		t.Errorf("clickhouse servers %v cluster %q; want the one addr, no cluster", got, cfg.ClickHouse.Cluster)
	}
	if cfg.Redis.Mode != RedisSingle || !reflect.DeepEqual(cfg.Redis.Servers(), []string{"127.0.0.1:6379"}) {
		t.Errorf("redis mode %q servers %v; want single over addr", cfg.Redis.Mode, cfg.Redis.Servers())
	}
	none, _, err := load(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if none.Redis.Enabled() || none.ClickHouse.Servers() != nil {
		t.Errorf("empty config: redis enabled %v, clickhouse %v; want neither", none.Redis.Enabled(), none.ClickHouse.Servers())
	}
}

func TestValidateClusterKeys(t *testing.T) {
	t.Parallel()
	dir := confDir(t, map[string]string{"config.default.yaml": frameworkDefault(t)})
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"bad mode", []string{"WINGS_REDIS__MODE=sentinel", "WINGS_REDIS__ADDR=h:1"}, `redis.mode: must be single or cluster, got "sentinel"`},
		{"cluster without addrs", []string{"WINGS_REDIS__MODE=cluster", "WINGS_REDIS__ADDR=h:1"}, "redis.addrs: must list the cluster's nodes"},
		{"cluster with db", []string{"WINGS_REDIS__MODE=cluster", "WINGS_REDIS__ADDRS=h:1", "WINGS_REDIS__DB=2"}, "redis.db: must be 0 when redis.mode is cluster"},
		{"single with several", []string{"WINGS_REDIS__ADDRS=h:1,h:2"}, "redis.addrs: several addresses need redis.mode cluster"},
		{"bad redis addr", []string{"WINGS_REDIS__MODE=cluster", "WINGS_REDIS__ADDRS=h:1,nohost"}, `redis.addrs: must be host:port entries, got "nohost"`},
		{"bad clickhouse addr", []string{"WINGS_CLICKHOUSE__ADDRS=h:1,nohost"}, `clickhouse.addrs: must be host:port entries, got "nohost"`},
		{"bad cluster name", []string{"WINGS_CLICKHOUSE__ADDRS=h:1", "WINGS_CLICKHOUSE__CLUSTER=a;drop"}, `clickhouse.cluster: must be a plain identifier, got "a;drop"`},
		{"clickhouse addrs need timeouts", []string{"WINGS_CLICKHOUSE__ADDRS=h:1", "WINGS_CLICKHOUSE__POOL_SIZE=0"}, "clickhouse.pool_size: must be > 0"},
		{"redis addrs need timeouts", []string{"WINGS_REDIS__MODE=cluster", "WINGS_REDIS__ADDRS=h:1", "WINGS_REDIS__POOL_SIZE=0"}, "redis.pool_size: must be > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, dir, tc.env...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v; want it to contain %q", err, tc.want)
			}
		})
	}
}

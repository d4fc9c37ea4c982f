package dao

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateSchema = flag.Bool("update", false, "rewrite testdata/schema_cluster.sql")

// TestSchemaSingleUnchanged: on one node the migrations render to the DDL
// in testdata/schema_single, byte for byte.
func TestSchemaSingleUnchanged(t *testing.T) {
	ms, err := Migrations("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/schema_single/*.sql")
	if len(files) != len(ms) {
		t.Fatalf("%d migrations; want the %d in testdata/schema_single", len(ms), len(files))
	}
	for _, m := range ms {
		want, err := os.ReadFile(filepath.Join("testdata/schema_single", m.Name))
		if err != nil {
			t.Fatal(err)
		}
		if m.SQL != string(want) {
			t.Errorf("%s changed from testdata/schema_single", m.Name)
		}
		if got := strings.Join(m.Render("", "wings"), ";\n"); got != strings.Join(m.Statements(), ";\n") {
			t.Errorf("%s: the single-node render is not the file's statements", m.Name)
		}
	}
}

// TestSchemaCluster: the cluster render is testdata/schema_cluster.sql
// (go test -run SchemaCluster -update rewrites it), and its shape holds:
// every table replicated behind a Distributed one, every view on a local
// table, the events sharded by user.
func TestSchemaCluster(t *testing.T) {
	ms, err := Migrations("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range ms {
		all = append(all, m.Render("wings_cluster", "wings")...)
	}
	got := strings.Join(all, ";\n\n") + ";\n"
	const golden = "testdata/schema_cluster.sql"
	if *updateSchema {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("cluster render differs from %s (rerun with -update and review the diff)", golden)
	}
	for _, st := range all {
		switch {
		case strings.HasPrefix(st, "CREATE TABLE"):
			if !strings.Contains(st, " ON CLUSTER wings_cluster") {
				t.Errorf("table without ON CLUSTER: %.80s", st)
			}
			if !strings.Contains(st, "ENGINE = Replicated") && !strings.Contains(st, "ENGINE = Distributed(") {
				t.Errorf("table neither replicated nor distributed: %.80s", st)
			}
		case strings.HasPrefix(st, "CREATE MATERIALIZED VIEW"):
			if !strings.Contains(st, "_local AS") || !strings.Contains(st, "FROM wings.events_local") {
				t.Errorf("view not on local tables: %.120s", st)
			}
		}
	}
	if !strings.Contains(got, "CREATE TABLE IF NOT EXISTS wings.events ON CLUSTER wings_cluster AS wings.events_local ENGINE = Distributed(wings_cluster, wings, events_local, cityHash64(user_id))") {
		t.Error("events is not a Distributed table sharded by cityHash64(user_id)")
	}
	// Every version of a span on one shard: FINAL and merges replace it.
	if !strings.Contains(got, "Distributed(wings_cluster, wings, agg_uv_span_local, cityHash64(source, business_line, event, platform, region, days, start))") {
		t.Error("agg_uv_span (a ReplacingMergeTree) is not sharded by the hash of its sorting key")
	}
	// A MATERIALIZED column is an ALIAS of the Distributed table: the
	// shards refuse its value in an INSERT.
	if !strings.Contains(got, "tag           UInt64 ALIAS cityHash64(days, start, ver)\n) ENGINE = Distributed(") {
		t.Error("agg_uv_span's Distributed table does not declare tag as an ALIAS")
	}
	if !strings.Contains(got, "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/wings/events_local', '{replica}')") {
		t.Error("events_local is not a ReplicatedMergeTree under the {shard}/{replica} macros")
	}
}

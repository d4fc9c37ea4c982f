package chclient

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/wings-bff/wings/framework/config"
)

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// EnsureDatabase creates cfg.Database when it is missing, over a connection
// to the default database (the native handshake fails on a missing one).
func EnsureDatabase(ctx context.Context, cfg config.ClickHouse) error {
	if !identRe.MatchString(cfg.Database) {
		return fmt.Errorf("clickhouse.database: %q is not a plain identifier", cfg.Database)
	}
	boot := cfg
	boot.Database = "default"
	c, err := New(boot)
	if err != nil {
		return err
	}
	defer c.Close()
	// The name is validated above and cannot be a bound parameter in DDL.
	return c.execDDL(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.Database+"`"+onCluster(cfg.Cluster))
}

// Migration is one versioned file: NNN_name.sql, statements separated by
// semicolons at line ends.
type Migration struct {
	Version uint32
	Name    string
	SQL     string
}

// LoadMigrations reads *.sql from dir in fsys, ordered by version, with
// every {key} in vars replaced by its value (for example {tz}).
func LoadMigrations(fsys fs.FS, dir string, vars map[string]string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNN_name.sql", e.Name())
		}
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", e.Name(), v, prev)
		}
		seen[uint32(v)] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sql := string(b)
		for k, val := range vars {
			sql = strings.ReplaceAll(sql, "{"+k+"}", val)
		}
		out = append(out, Migration{Version: uint32(v), Name: e.Name(), SQL: sql})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Statements splits a migration into statements, dropping comment lines.
func (m Migration) Statements() []string {
	var b strings.Builder
	for _, line := range strings.Split(m.SQL, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	for _, s := range strings.Split(b.String(), ";\n") {
		if s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Migrate applies the migrations not yet recorded in schema_migrations, in
// version order, and records each. Statements are written to be idempotent
// (IF NOT EXISTS), so a migration interrupted half-way is safely re-run.
// It returns the names applied now.
func (c *Client) Migrate(ctx context.Context, migrations []Migration) ([]string, error) {
	ddl := `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version`
	if c.cluster != "" {
		// One replicated table on every host (one ZooKeeper path for all
		// shards), so every server knows which migrations ran.
		ddl = fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.schema_migrations%s (
    version UInt32, name String, applied_at DateTime
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/%s/schema_migrations', '{shard}_{replica}') ORDER BY version`, c.database, c.OnCluster(), c.database)
	}
	if err := c.execDDL(ctx, ddl); err != nil {
		return nil, fmt.Errorf("schema_migrations: %w", err)
	}
	var rows []struct {
		Version uint32 `ch:"version"`
	}
	if err := c.Select(ctx, &rows, "SELECT DISTINCT version FROM schema_migrations"); err != nil {
		return nil, fmt.Errorf("schema_migrations: %w", err)
	}
	done := map[uint32]bool{}
	for _, r := range rows {
		done[r.Version] = true
	}
	var applied []string
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		for _, st := range m.Render(c.cluster, c.database) {
			if err := c.execDDL(ctx, st); err != nil {
				return applied, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if err := c.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) SELECT ?, ?, now()", m.Version, m.Name); err != nil {
			return applied, fmt.Errorf("migration %s: record: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// Cluster rendering of the migrations' DDL. A migration is written once,
// for one node; on a cluster each statement becomes its cluster form:
//
//	CREATE TABLE IF NOT EXISTS t (...) ENGINE = XMergeTree[(args)] ...
//	  -> <db>.t_local ON CLUSTER c, ENGINE = ReplicatedXMergeTree(
//	     '/clickhouse/tables/{shard}/<db>/t_local', '{replica}'[, args])
//	  +  <db>.t ON CLUSTER c AS <db>.t_local ENGINE = Distributed(c, <db>, t_local, key)
//	     key: cityHash64(user_id) when t has user_id (one user's rows on
//	     one shard, so per-user work is shard-local); for a
//	     ReplacingMergeTree, cityHash64(<its ORDER BY columns>) (every
//	     version of a row on one shard, so merges and FINAL replace it);
//	     else rand(); a MATERIALIZED column of t is an ALIAS of the
//	     Distributed table (see distColumns)
//	CREATE MATERIALIZED VIEW IF NOT EXISTS v TO t AS SELECT ... FROM s
//	  -> <db>.v ON CLUSTER c TO <db>.t_local AS SELECT ... FROM <db>.s_local
//	     (each shard's view sees the rows inserted into its local table)
//	anything else (INSERT ... SELECT backfills) runs as written, through
//	the Distributed tables.
//
// Names are qualified with <db>: the other hosts run ON CLUSTER DDL in
// their default database. {shard} and {replica} are server macros
// (config.d of each server).
var (
	createTableRe  = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*) \(`)
	engineRe       = regexp.MustCompile(`ENGINE = ([A-Za-z]*MergeTree)(\(([^)]*)\))?`)
	createViewRe   = regexp.MustCompile(`^CREATE MATERIALIZED VIEW IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*) TO ([A-Za-z_][A-Za-z0-9_]*) AS`)
	fromRe         = regexp.MustCompile(`\bFROM ([A-Za-z_][A-Za-z0-9_]*)`)
	userIDColRe    = regexp.MustCompile(`(?m)^\s*user_id\s`)
	materializedRe = regexp.MustCompile(` MATERIALIZED `)
	orderByRe      = regexp.MustCompile(`\bORDER BY \(([^)]*)\)`)
)

// RenderStatement returns the statements that apply st on cluster in
// database db: st itself when cluster is empty.
func RenderStatement(st, cluster, db string) []string {
	if cluster == "" {
		return []string{st}
	}
	on := onCluster(cluster)
	if m := createTableRe.FindStringSubmatch(st); m != nil {
		name, local := m[1], LocalName(cluster, m[1])
		e := engineRe.FindStringSubmatchIndex(st)
		if e == nil {
			return []string{st}
		}
		engine, args := st[e[2]:e[3]], ""
		if e[6] >= 0 {
			args = st[e[6]:e[7]]
		}
		repl := fmt.Sprintf("Replicated%s('/clickhouse/tables/{shard}/%s/%s', '{replica}'", engine, db, local)
		if args != "" {
			repl += ", " + args
		}
		repl += ")"
		body := st[:e[0]] + "ENGINE = " + repl + st[e[1]:]
		body = strings.Replace(body, "CREATE TABLE IF NOT EXISTS "+name+" (", "CREATE TABLE IF NOT EXISTS "+db+"."+local+on+" (", 1)
		_, dist, _ := distributedDDL(st, cluster, db)
		return []string{body, dist(name, on)}
	}
	if m := createViewRe.FindStringSubmatch(st); m != nil {
		head := fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS", db, m[1], on, db, LocalName(cluster, m[2]))
		rest := st[len(m[0]):]
		if f := fromRe.FindStringSubmatchIndex(rest); f != nil {
			rest = rest[:f[2]] + db + "." + LocalName(cluster, rest[f[2]:f[3]]) + rest[f[3]:]
		}
		return []string{head + rest}
	}
	return []string{st}
}

// distributedDDL returns, for a CREATE TABLE statement st, the table's
// name and a function writing the CREATE TABLE of its Distributed table
// under another name (table) with or without ON CLUSTER (on); false when
// st is not a CREATE TABLE of a MergeTree table.
func distributedDDL(st, cluster, db string) (name string, ddl func(table, on string) string, ok bool) {
	m := createTableRe.FindStringSubmatch(st)
	e := engineRe.FindStringSubmatchIndex(st)
	if m == nil || e == nil {
		return "", nil, false
	}
	name, local := m[1], LocalName(cluster, m[1])
	engine := st[e[2]:e[3]]
	key := "rand()"
	if userIDColRe.MatchString(st[:e[0]]) {
		key = "cityHash64(user_id)"
	} else if o := orderByRe.FindStringSubmatch(st[e[1]:]); engine == "ReplacingMergeTree" && o != nil {
		key = "cityHash64(" + o[1] + ")"
	}
	cols, explicit := distColumns(st[len(m[0]):e[0]])
	return name, func(table, on string) string {
		if explicit {
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s (%s) ENGINE = Distributed(%s, %s, %s, %s)", db, table, on, cols, cluster, db, local, key)
		}
		return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s ENGINE = Distributed(%s, %s, %s, %s)", db, table, on, db, local, cluster, db, local, key)
	}, true
}

// RedefineDistributed makes the Distributed table of each table the
// migrations create match the definition this build renders for it (its
// sharding key, its ALIAS columns), on a cluster; it does nothing on one
// node. A migration that has run is not run again, so a cluster migrated by
// an earlier build keeps the Distributed tables that build made; this
// brings them up to date. For each table it creates the wanted definition
// on this server under a scratch name and compares the server's SHOW
// CREATE TABLE of both. A table that differs is replaced ON CLUSTER: the
// new table is created beside it and the two swapped by one RENAME, so
// queries never find the table missing. A Distributed table holds no rows
// of its own (Wings inserts with insert_distributed_sync), so nothing is
// lost. It returns the tables replaced.
func (c *Client) RedefineDistributed(ctx context.Context, migrations []Migration) ([]string, error) {
	if c.cluster == "" {
		return nil, nil
	}
	on := c.OnCluster()
	var redefined []string
	for _, m := range migrations {
		for _, st := range m.Statements() {
			name, ddl, ok := distributedDDL(st, c.cluster, c.database)
			if !ok {
				continue
			}
			same, err := c.sameDistributed(ctx, name, ddl)
			if err != nil {
				return redefined, fmt.Errorf("%s: %w", name, err)
			}
			if same {
				continue
			}
			q := func(t string) string { return c.database + "." + t }
			for _, st := range []string{
				"DROP TABLE IF EXISTS " + q(name+"__new") + on,
				"DROP TABLE IF EXISTS " + q(name+"__old") + on,
				ddl(name+"__new", on),
				"RENAME TABLE " + q(name) + " TO " + q(name+"__old") + ", " + q(name+"__new") + " TO " + q(name) + on,
				"DROP TABLE IF EXISTS " + q(name+"__old") + on,
			} {
				if err := c.execDDL(ctx, st); err != nil {
					return redefined, fmt.Errorf("redefine %s: %w", name, err)
				}
			}
			redefined = append(redefined, name)
		}
	}
	return redefined, nil
}

// sameDistributed reports whether the Distributed table name has the
// definition ddl writes, as this server shows both.
func (c *Client) sameDistributed(ctx context.Context, name string, ddl func(table, on string) string) (bool, error) {
	want := name + "__want"
	drop := "DROP TABLE IF EXISTS " + c.database + "." + want
	if err := c.execDDL(ctx, drop); err != nil {
		return false, err
	}
	if err := c.execDDL(ctx, ddl(want, "")); err != nil {
		return false, err
	}
	defer func() { _ = c.execDDL(context.WithoutCancel(ctx), drop) }()
	show := func(t string) (string, error) {
		var s string
		err := c.conn.QueryRow(ctx, "SHOW CREATE TABLE "+c.database+"."+t).Scan(&s)
		return s, err
	}
	have, err := show(name)
	if err != nil {
		return false, err
	}
	wanted, err := show(want)
	if err != nil {
		return false, err
	}
	return have == strings.Replace(wanted, c.database+"."+want+" ", c.database+"."+name+" ", 1), nil
}

// distColumns returns the column list of a Distributed table over a local
// table whose columns (the text after "CREATE TABLE ... (" up to ENGINE)
// hold a MATERIALIZED column, and false when none is. Such a column is an
// ALIAS of the same expression in the Distributed table: an INSERT
// through "AS local" would compute it and send it to the shards, which
// refuse a value for a MATERIALIZED column (ClickHouse 18.16); as an ALIAS
// it is never inserted, and a read computes it from the same columns, so
// it reads the same value.
func distColumns(cols string) (string, bool) {
	i := strings.LastIndexByte(cols, ')')
	if i < 0 || !materializedRe.MatchString(cols[:i]) {
		return "", false
	}
	return materializedRe.ReplaceAllString(cols[:i], " ALIAS "), true
}

// Render returns m's statements as they run on cluster in database db
// (RenderStatement of each).
func (m Migration) Render(cluster, db string) []string {
	var out []string
	for _, st := range m.Statements() {
		out = append(out, RenderStatement(st, cluster, db)...)
	}
	return out
}

// execDDL runs one migration statement under its own deadline: DDL can be
// slow on a busy server, and ON CLUSTER DDL waits for every host.
func (c *Client) execDDL(ctx context.Context, st string) error {
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return c.conn.Exec(clickhouse.Context(sctx), st)
}

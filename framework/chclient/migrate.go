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
	return c.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+cfg.Database+"`")
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
	const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32, name String, applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version`
	if err := c.Exec(ctx, ddl); err != nil {
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
		for _, st := range m.Statements() {
			// DDL can be slow on a busy server: give it its own deadline.
			sctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := c.conn.Exec(clickhouse.Context(sctx), st)
			cancel()
			if err != nil {
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

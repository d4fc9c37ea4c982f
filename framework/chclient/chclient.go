// Package chclient builds the shared ClickHouse connection (clickhouse-go v2,
// native protocol) from config and bounds every query with a client-side
// deadline and the server-side max_execution_time setting.
package chclient

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/config"
)

// Client is a ClickHouse connection pool plus the query bounds from config.
type Client struct {
	conn     driver.Conn // raw, or instrumented (metrics.go) over raw
	raw      driver.Conn
	m        *Metrics // nil: not counted; see metrics.go
	database string
	cluster  string
	timeout  time.Duration
	maxExec  time.Duration
	tr       trace.Tracer // nil: tracing off; see trace.go
	cfg      config.ClickHouse
}

// New opens a pool to cfg.Addr, or to cfg.Addrs: each new connection tries
// the servers in order and takes the first that answers, so a dead server
// costs one dial timeout per new connection and no failed query once the
// pool holds connections to a live one. With cfg.Cluster set, every
// statement carries insert_distributed_sync=1: an INSERT into a Distributed
// table returns once every shard has its rows (or fails), never with rows
// queued on the initiator. Opening does not dial; Ping does.
func New(cfg config.ClickHouse) (*Client, error) {
	dialer := &closingDialer{d: net.Dialer{Timeout: cfg.DialTimeout}}
	var settings clickhouse.Settings
	if cfg.Cluster != "" {
		settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:         clickhouse.Native,
		Addr:             cfg.Servers(),
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Settings:         settings,
		Auth: clickhouse.Auth{
			Database: cfg.Database,
			Username: cfg.User,
			Password: cfg.Password.Reveal(),
		},
		DialTimeout:     cfg.DialTimeout,
		DialContext:     dialer.DialContext,
		DialStrategy:    dialer.Strategy,
		MaxOpenConns:    cfg.PoolSize,
		MaxIdleConns:    cfg.PoolSize,
		ConnMaxLifetime: time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(cfg.Servers(), ","), err)
	}
	return &Client{conn: conn, raw: conn, database: cfg.Database, cluster: cfg.Cluster, timeout: cfg.QueryTimeout, maxExec: cfg.MaxExecutionTime, cfg: cfg}, nil
}

// ExecOnEachShard runs a statement once per shard of the cluster, on the
// first of the shard's servers (system.clusters) that answers, and once on
// a single node. It is for statements on a replicated local table that
// replication carries to the shard's other replicas, such as ALTER TABLE
// t_local DROP PARTITION. It stands in for ALTER ... ON CLUSTER, which on
// ClickHouse 18.16 can leave the initiator waiting out its timeout when
// two replicas of one shard race for the task ("Node exists:
// .../shards/<shard>/executed" in the DDLWorker's log).
func (c *Client) ExecOnEachShard(ctx context.Context, query string, args ...any) error {
	if c.cluster == "" {
		return c.Exec(ctx, query, args...)
	}
	var hosts []struct {
		Shard uint32 `ch:"shard_num"`
		Host  string `ch:"host_address"`
		Port  uint16 `ch:"port"`
	}
	err := c.Select(ctx, &hosts, "SELECT shard_num, host_address, port FROM system.clusters WHERE cluster = @cluster ORDER BY shard_num, replica_num",
		clickhouse.Named("cluster", c.cluster))
	if err != nil {
		return fmt.Errorf("shards of %s: %w", c.cluster, err)
	}
	if len(hosts) == 0 {
		return fmt.Errorf("shards of %s: no such cluster in system.clusters", c.cluster)
	}
	var shards [][]string
	for i, h := range hosts {
		addr := net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port)))
		if i == 0 || h.Shard != hosts[i-1].Shard {
			shards = append(shards, nil)
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], addr)
	}
	for i, addrs := range shards {
		cfg := c.cfg
		cfg.Addr, cfg.Addrs, cfg.Cluster, cfg.PoolSize = "", addrs, "", 1
		sc, err := New(cfg)
		if err != nil {
			return err
		}
		sc.timeout, sc.maxExec = c.timeout, c.maxExec
		err = sc.Exec(ctx, query, args...)
		_ = sc.Close()
		if err != nil {
			return fmt.Errorf("shard %d (%s): %w", i+1, strings.Join(addrs, ","), err)
		}
	}
	return nil
}

// Cluster returns the configured cluster name, empty on a single node.
func (c *Client) Cluster() string { return c.cluster }

// LocalTable returns the table that holds a Distributed table's rows on
// each shard: name + "_local" on a cluster, name itself on a single node.
// Mutations, OPTIMIZE and per-shard reads address it; reads of the whole
// data set go through name.
func (c *Client) LocalTable(name string) string { return LocalName(c.cluster, name) }

// OnCluster returns the clause that runs a DDL statement on every host of
// the cluster (" ON CLUSTER name", leading space included), or "" on a
// single node.
func (c *Client) OnCluster() string { return onCluster(c.cluster) }

// GlobalIn returns the operator for an IN whose subquery reads a
// Distributed table inside a query that reads one too: "GLOBAL IN" on a
// cluster, "IN" on a single node. GLOBAL runs the subquery once, on the
// initiator over every shard, and ships its result to the shards; a plain
// IN would run it on each shard over that shard's rows only (ClickHouse
// refuses it by default: distributed_product_mode = deny).
func (c *Client) GlobalIn() string {
	if c.cluster == "" {
		return "IN"
	}
	return "GLOBAL IN"
}

// LocalName is LocalTable for a cluster name (empty: single node).
func LocalName(cluster, name string) string {
	if cluster == "" {
		return name
	}
	return name + "_local"
}

func onCluster(cluster string) string {
	if cluster == "" {
		return ""
	}
	return " ON CLUSTER " + cluster
}

// closingDialer closes the connections of a failed dial. The driver drops
// a connection whose handshake fails (a server that accepts and never
// answers, or answers garbage) without closing it: each attempt would leave
// a socket open to the hung server until the garbage collector found it.
// Strategy marks each dial attempt's context; DialContext records the
// connections it opens there.
type closingDialer struct{ d net.Dialer }

type dialedKey struct{}

// dialed is the connections one dial attempt opened.
type dialed struct {
	mu    sync.Mutex
	conns []net.Conn
}

// DialContext opens a TCP connection and records it in ctx's attempt.
func (cd *closingDialer) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	c, err := cd.d.DialContext(ctx, "tcp", addr)
	if d, ok := ctx.Value(dialedKey{}).(*dialed); ok && err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

// Strategy runs the driver's default strategy and closes every connection
// it opened but did not hand to the pool: all of them when it failed, all
// but the last when it succeeded.
func (cd *closingDialer) Strategy(ctx context.Context, id int, opt *clickhouse.Options, dial clickhouse.Dial) (clickhouse.DialResult, error) {
	d := &dialed{}
	r, err := clickhouse.DefaultDialStrategy(context.WithValue(ctx, dialedKey{}, d), id, opt, dial)
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := len(d.conns) - 1
	if err != nil {
		keep = -1
	}
	for i, c := range d.conns {
		if i != keep {
			_ = c.Close()
		}
	}
	return r, err
}

// WithTimeout returns a client over the same pool whose queries are bounded
// by d on both sides instead: for background jobs whose statements read far
// more than a request's.
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	cp.timeout, cp.maxExec = d, d
	return &cp
}

// Conn returns the underlying driver connection, for batch inserts and
// tools. Request-path code should use Query, which applies the bounds.
func (c *Client) Conn() driver.Conn { return c.conn }

// Database returns the configured database name.
func (c *Client) Database() string { return c.database }

// Timeout returns the client-side bound of one query.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Limits are per-query server-side limits (ClickHouse settings, all
// present in 18.16). A zero field leaves that setting to the client's
// bound or the server's default.
type Limits struct {
	// MaxExecutionTime is max_execution_time (whole seconds, at least 1);
	// it replaces clickhouse.max_execution_time for the query.
	MaxExecutionTime time.Duration
	// MaxMemoryUsage is max_memory_usage in bytes (error 241 beyond it).
	MaxMemoryUsage uint64
	// MaxRowsToRead is max_rows_to_read (error 158 beyond it).
	MaxRowsToRead uint64
}

type limitsKey struct{}

// WithLimits returns ctx carrying limits that every query run under it
// through this package (Bound, Select, Exec) sends as settings. The
// client-side deadline (clickhouse.query_timeout) still applies.
func WithLimits(ctx context.Context, l Limits) context.Context {
	return context.WithValue(ctx, limitsKey{}, l)
}

// LimitsFrom returns the limits carried by ctx, if any.
func LimitsFrom(ctx context.Context) (Limits, bool) {
	l, ok := ctx.Value(limitsKey{}).(Limits)
	return l, ok
}

// Bound returns ctx limited by the query timeout and carrying the
// max_execution_time setting, and the limits of WithLimits when ctx has
// them; call cancel when done with the rows.
func (c *Client) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	maxExec := c.maxExec
	settings := clickhouse.Settings{}
	if l, ok := LimitsFrom(ctx); ok {
		if l.MaxExecutionTime > 0 {
			maxExec = l.MaxExecutionTime
		}
		if l.MaxMemoryUsage > 0 {
			settings["max_memory_usage"] = int(l.MaxMemoryUsage)
		}
		if l.MaxRowsToRead > 0 {
			settings["max_rows_to_read"] = int(l.MaxRowsToRead)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	secs := int(maxExec / time.Second)
	if secs < 1 {
		secs = 1
	}
	settings["max_execution_time"] = secs
	// Servers before 19.x take settings as integers only (clickhouse-go
	// rejects other types for them), hence int above.
	return clickhouse.Context(ctx, clickhouse.WithSettings(settings)), cancel
}

// Select runs a bounded query and scans all rows into dest (a pointer to a
// slice of structs tagged `ch:"col"`).
func (c *Client) Select(ctx context.Context, dest any, query string, args ...any) error {
	ctx, cancel := c.Bound(ctx)
	defer cancel()
	return c.conn.Select(ctx, dest, query, args...)
}

// Exec runs a bounded statement.
func (c *Client) Exec(ctx context.Context, query string, args ...any) error {
	ctx, cancel := c.Bound(ctx)
	defer cancel()
	return c.conn.Exec(ctx, query, args...)
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.conn.Ping(ctx)
}

// Close closes the pool.
func (c *Client) Close() error { return c.conn.Close() }

package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Config is the framework's part of the configuration. Applications embed it
// with `mapstructure:",squash"` and add their own sections.
type Config struct {
	// Env is the environment in force (from WINGS_ENV), not a file key.
	Env string `mapstructure:"env"`
	// EnvNamed reports whether the environment was named (WINGS_ENV or
	// Options.Env) rather than defaulted to local; Load sets it.
	EnvNamed bool   `mapstructure:"-"`
	App      App    `mapstructure:"app"`
	Server   Server `mapstructure:"server"`
	Log      Log    `mapstructure:"log"`
	// Upstreams are the upstream teams' HTTP services, by name.
	Upstreams map[string]Upstream `mapstructure:"upstreams"`
	// Routes holds per-route settings keyed by route name.
	Routes map[string]Route `mapstructure:"routes"`
	Redis  Redis            `mapstructure:"redis"`
	// Cache configures the response and data cache.
	Cache Cache `mapstructure:"cache"`
	// Admin configures the framework's admin endpoints.
	Admin Admin `mapstructure:"admin"`
	// ClickHouse configures the analytics store; empty Addr means none.
	ClickHouse ClickHouse `mapstructure:"clickhouse"`
	// Auth configures login and resource permission (framework/auth).
	Auth Auth `mapstructure:"auth"`
	// Etcd is the optional config centre (see EtcdSource).
	Etcd Etcd `mapstructure:"etcd"`
	// Features are named on/off switches the application reads with
	// Runtime.Feature; they hot-reload. An unlisted feature is off.
	Features map[string]bool `mapstructure:"features"`
	// Tracing configures OpenTelemetry traces (framework/tracing).
	Tracing Tracing `mapstructure:"tracing"`
	// Sentry configures error tracking (framework/errtrack).
	Sentry Sentry `mapstructure:"sentry"`
}

// ClickHouse configures the shared ClickHouse connection pool (native
// protocol). With no Addr there is no ClickHouse and the dashboards answer
// 503 unless a precomputed payload exists.
type ClickHouse struct {
	Addr     string `mapstructure:"addr"`
	Database string `mapstructure:"database"`
	User     string `mapstructure:"user"`
	// Password comes only from WINGS_CLICKHOUSE__PASSWORD.
	Password    Secret        `mapstructure:"password"`
	PoolSize    int           `mapstructure:"pool_size"`
	DialTimeout time.Duration `mapstructure:"dial_timeout"`
	// QueryTimeout bounds every query from the client side.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`
	// MaxExecutionTime is sent as the max_execution_time setting, so the
	// server gives up too.
	MaxExecutionTime time.Duration `mapstructure:"max_execution_time"`
	// Addrs lists several servers (host:port) the driver fails over
	// between, tried in order; when set it replaces Addr. From the
	// environment it is one comma-separated value.
	Addrs []string `mapstructure:"addrs"`
	// Cluster is the cluster name of remote_servers; empty means one node.
	// Set, migrations run ON CLUSTER with replicated local tables behind
	// Distributed ones, and inserts wait for every shard.
	Cluster string `mapstructure:"cluster"`
}

// Servers returns the servers to dial: Addrs when set, else Addr alone,
// else none.
func (c ClickHouse) Servers() []string {
	if len(c.Addrs) > 0 {
		return c.Addrs
	}
	if c.Addr != "" {
		return []string{c.Addr}
	}
	return nil
}

// Cache configures the response and data cache (framework/cache): an
// in-process L1 in front of Redis when redis.addr is set.
type Cache struct {
	// Responses turns the route response cache on; off, routes are never
	// cached but GetOrLoad still is.
	Responses bool `mapstructure:"responses"`
	// L1MaxEntries and L1MaxBytes bound the in-process level; the least
	// recently used entries go first when either is reached.
	L1MaxEntries int `mapstructure:"l1_max_entries"`
	L1MaxBytes   int `mapstructure:"l1_max_bytes"`
	// IgnoreParams is accepted so that existing config files load, and has
	// no effect: response keys hold only the query parameters each route
	// declares (wings.Route.Query), so no list of parameters to leave out
	// is needed, and a declared one is never left out.
	IgnoreParams []string `mapstructure:"ignore_params"`
	// LockTTL, when > 0, makes a miss take a short Redis lock (SET NX PX) so
	// one instance of many computes the entry; 0 leaves it to each process.
	LockTTL time.Duration `mapstructure:"lock_ttl"`
	// TTLJitter shortens each entry's TTL by a random share in
	// [0, TTLJitter), so entries filled together do not expire together.
	TTLJitter float64 `mapstructure:"ttl_jitter"`
	// EarlyRefresh is XFetch's beta: a hit shortly before expiry starts a
	// background refresh with a probability that grows as expiry nears and
	// with the entry's compute time (0: off; 1: the usual).
	EarlyRefresh float64 `mapstructure:"early_refresh"`
	// RefreshConcurrency bounds the background refreshes running at once;
	// when all are busy, a stale entry is served and its refresh skipped.
	RefreshConcurrency int `mapstructure:"refresh_concurrency"`
}

// Admin configures the framework's admin endpoints.
type Admin struct {
	// Token is the bearer token of /admin/*; only from WINGS_ADMIN__TOKEN.
	// Unset, the admin endpoints refuse every call.
	Token Secret `mapstructure:"token"`
}

// Redis configures the shared Redis client. With no Addr there is no Redis:
// caches run on their in-process level alone and cluster-wide job leases
// fall back to in-process ones.
type Redis struct {
	Addr string `mapstructure:"addr"`
	DB   int    `mapstructure:"db"`
	// Password comes only from WINGS_REDIS__PASSWORD.
	Password     Secret        `mapstructure:"password"`
	DialTimeout  time.Duration `mapstructure:"dial_timeout"`
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	PoolSize     int           `mapstructure:"pool_size"`
	// Mode is "single" (one server at Addr; db applies) or "cluster" (a
	// Redis Cluster reached through Addrs; db must be 0).
	Mode string `mapstructure:"mode"`
	// Addrs lists cluster nodes (host:port) to discover the cluster from;
	// in single mode it may replace Addr with one entry. From the
	// environment it is one comma-separated value.
	Addrs []string `mapstructure:"addrs"`
}

// clusterNameRe is what clickhouse.cluster may hold: it is written into
// DDL unquoted.
var clusterNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Redis modes.
const (
	RedisSingle  = "single"
	RedisCluster = "cluster"
)

// Enabled reports whether a Redis is configured.
func (r Redis) Enabled() bool { return r.Addr != "" || len(r.Addrs) > 0 }

// Servers returns the addresses to dial: Addrs when set, else Addr.
func (r Redis) Servers() []string {
	if len(r.Addrs) > 0 {
		return r.Addrs
	}
	if r.Addr != "" {
		return []string{r.Addr}
	}
	return nil
}

// App names the service.
type App struct {
	// Name is the service's name: in logs, metrics' job and cache keys.
	Name string `mapstructure:"name"`
}

// Server configures the HTTP server and its shutdown.
type Server struct {
	// Addr is the listen address; with WINGS_ENV unset (local, with its
	// demo tokens) only a loopback address is accepted.
	Addr string `mapstructure:"addr"`
	// RequestTimeout is the default deadline of every request.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout must exceed RequestTimeout so deadlines fire first.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// DrainDelay is how long /readyz answers 503 before the listener closes,
	// so load balancers stop sending traffic.
	DrainDelay time.Duration `mapstructure:"drain_delay"`
	// ShutdownTimeout bounds the wait for in-flight requests.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// ReusePort listens with SO_REUSEPORT, so a new process can bind the
	// same address while the old one drains: a zero-downtime restart.
	ReusePort bool `mapstructure:"reuse_port"`
	// GzipMinBytes is the smallest body worth compressing.
	GzipMinBytes int  `mapstructure:"gzip_min_bytes"`
	CORS         CORS `mapstructure:"cors"`
	// MaxInFlight sheds application requests beyond this many in flight
	// across all routes with 503 unavailable; 0 means no limit.
	MaxInFlight int `mapstructure:"max_in_flight"`
	// PprofAddr serves net/http/pprof on this loopback address while the
	// server runs; empty (the default) serves nothing.
	PprofAddr string `mapstructure:"pprof_addr"`
	// TrustedProxies are the CIDRs of the proxies whose X-Forwarded-For
	// is believed: the client address is the nearest one in that header
	// not in these ranges, reached only through trusted hops; a request
	// from any other peer is the peer's own (rate limits, logs).
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// MaxHeaderBytes bounds the request line and headers; beyond it the
	// request is answered 431 (headers) or 414 (URL).
	// Unset (0), it is DefaultMaxHeaderBytes: config files written before
	// the key existed keep loading.
	MaxHeaderBytes int `mapstructure:"max_header_bytes"`
}

// setEnvNamed records whether the environment was named; see EnvNamed.
func (c *Config) setEnvNamed(named bool) { c.EnvNamed = named }

// DefaultMaxHeaderBytes is server.max_header_bytes when unset: 64 KiB, a
// sixteenth of net/http's own default.
const DefaultMaxHeaderBytes = 64 << 10

// CORS lists the origins allowed to call the API from a browser.
type CORS struct {
	// AllowOrigins are the origins allowed to call; none turns CORS off.
	AllowOrigins []string `mapstructure:"allow_origins"`
	// AllowCredentials lets browsers send cookies cross-origin.
	AllowCredentials bool `mapstructure:"allow_credentials"`
	// MaxAge is how long (seconds) a browser caches a preflight answer.
	MaxAge int `mapstructure:"max_age"`
}

// Log configures the logger.
type Log struct {
	Level  string `mapstructure:"level"`  // trace, debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}

// Upstream configures one named upstream HTTP service.
type Upstream struct {
	// BaseURL is the upstream's base URL.
	BaseURL string `mapstructure:"base_url"`
	// Timeout bounds one call (each attempt), within the request's budget.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxIdleConns is the keep-alive pool size to this upstream.
	MaxIdleConns int `mapstructure:"max_idle_conns"`
	// Headers are sent on every call to the upstream.
	Headers map[string]string `mapstructure:"headers"`
	// Retries is how many times a failed GET is retried (connection
	// errors, 5xx, timeouts), never beyond the caller's remaining budget.
	Retries int `mapstructure:"retries"`
	// RetryBackoff is the base delay before the first retry; it doubles for
	// each further retry, jittered to between half and all of it.
	RetryBackoff time.Duration `mapstructure:"retry_backoff"`
	// Coalesce shares one in-flight GET among identical concurrent calls.
	Coalesce bool    `mapstructure:"coalesce"`
	Breaker  Breaker `mapstructure:"breaker"`
}

// Breaker configures an upstream's circuit breaker.
type Breaker struct {
	// FailureRatio opens the breaker when failures/requests within Interval
	// reach it (after MinRequests); 0 disables the breaker.
	FailureRatio float64 `mapstructure:"failure_ratio"`
	MinRequests  int     `mapstructure:"min_requests"`
	// Interval is the closed state's counting window.
	Interval time.Duration `mapstructure:"interval"`
	// OpenTimeout is how long the breaker fails fast before half-opening.
	OpenTimeout time.Duration `mapstructure:"open_timeout"`
	// HalfOpenRequests is how many probes pass while half-open; that many
	// successes close the breaker, one failure opens it again.
	HalfOpenRequests int `mapstructure:"half_open_requests"`
}

// RateLimit is a per-client token bucket.
type RateLimit struct {
	// RPS is the sustained requests per second per client IP; 0 disables.
	RPS float64 `mapstructure:"rps"`
	// Burst is the bucket size; 0 means max(1, RPS).
	Burst int `mapstructure:"burst"`
}

// Route holds per-route overrides, keyed by the route's name.
type Route struct {
	// Timeout is the route's deadline, overriding the code's and the
	// server's.
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxInFlight sheds this route's requests beyond this many in flight
	// with 503 unavailable; 0 means no limit.
	MaxInFlight int       `mapstructure:"max_in_flight"`
	RateLimit   RateLimit `mapstructure:"rate_limit"`
	// CacheTTL turns on (or retunes) the route's response cache (GET
	// routes only).
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// CacheGrace overrides how long past its TTL an entry is served while
	// it refreshes in the background.
	CacheGrace time.Duration `mapstructure:"cache_grace"`
	// CacheStaleIfError overrides how long past its TTL an entry is served
	// when the refresh fails.
	CacheStaleIfError time.Duration `mapstructure:"cache_stale_if_error"`
}

// Validate checks every key and reports all problems at once, each naming
// its key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.App.Name == "" {
		bad("app.name", "must be set")
	}
	if c.Server.Addr == "" {
		bad("server.addr", "must be set")
	}
	positive := map[string]time.Duration{
		"server.request_timeout":     c.Server.RequestTimeout,
		"server.read_header_timeout": c.Server.ReadHeaderTimeout,
		"server.shutdown_timeout":    c.Server.ShutdownTimeout,
	}
	for _, k := range sortedKeys(positive) {
		if positive[k] <= 0 {
			bad(k, "must be > 0")
		}
	}
	if c.Server.WriteTimeout != 0 && c.Server.WriteTimeout <= c.Server.RequestTimeout {
		bad("server.write_timeout", "must be > server.request_timeout (%s) or 0", c.Server.RequestTimeout)
	}
	if c.Server.DrainDelay < 0 {
		bad("server.drain_delay", "must be >= 0")
	}
	if c.Server.GzipMinBytes < 0 {
		bad("server.gzip_min_bytes", "must be >= 0")
	}
	if c.Server.MaxInFlight < 0 {
		bad("server.max_in_flight", "must be >= 0 (0: no limit)")
	}
	for i, p := range c.Server.TrustedProxies {
		if n, err := ParseTrustedProxy(p); err != nil {
			bad("server.trusted_proxies", "entry %d: %v", i, err)
		} else if ones, _ := n.Mask.Size(); ones == 0 {
			bad("server.trusted_proxies", "entry %d: %q trusts every address, so anyone could choose their client address; list the proxies' ranges", i, p)
		}
	}
	if c.Server.MaxHeaderBytes == 0 {
		c.Server.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if n := c.Server.MaxHeaderBytes; n < 4<<10 || n > 1<<20 {
		bad("server.max_header_bytes", "must be 0 (the default, 64 KiB) or between 4096 and 1048576, got %d", n)
	}
	if a := c.Server.PprofAddr; a != "" && !loopbackAddr(a) {
		bad("server.pprof_addr", "must be a loopback host:port such as 127.0.0.1:6061 (profiles expose internals), got %q", a)
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "warning", "error":
	default:
		bad("log.level", "must be one of trace, debug, info, warn, error")
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text")
	}
	for _, name := range sortedKeys(c.Upstreams) {
		u := c.Upstreams[name]
		key := "upstreams." + name
		if pu, err := url.Parse(u.BaseURL); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(key+".base_url", "must be an http(s) URL, got %q", u.BaseURL)
		}
		if u.Timeout <= 0 {
			bad(key+".timeout", "must be > 0")
		}
		if u.MaxIdleConns <= 0 {
			bad(key+".max_idle_conns", "must be > 0")
		}
		if u.Retries < 0 || u.Retries > 10 {
			bad(key+".retries", "must be between 0 and 10, got %d", u.Retries)
		}
		if u.RetryBackoff < 0 || (u.Retries > 0 && u.RetryBackoff == 0) {
			bad(key+".retry_backoff", "must be > 0 when retries > 0")
		}
		if b := u.Breaker; b.FailureRatio < 0 || b.FailureRatio > 1 {
			bad(key+".breaker.failure_ratio", "must be between 0 (off) and 1, got %g", b.FailureRatio)
		} else if b.FailureRatio > 0 {
			if b.MinRequests <= 0 {
				bad(key+".breaker.min_requests", "must be > 0")
			}
			if b.Interval <= 0 {
				bad(key+".breaker.interval", "must be > 0")
			}
			if b.OpenTimeout <= 0 {
				bad(key+".breaker.open_timeout", "must be > 0")
			}
			if b.HalfOpenRequests <= 0 {
				bad(key+".breaker.half_open_requests", "must be > 0")
			}
		}
	}
	switch c.Redis.Mode {
	case "", RedisSingle:
		if len(c.Redis.Addrs) > 1 {
			bad("redis.addrs", "several addresses need redis.mode cluster")
		}
	case RedisCluster:
		if len(c.Redis.Addrs) == 0 {
			bad("redis.addrs", "must list the cluster's nodes when redis.mode is cluster")
		}
		if c.Redis.DB != 0 {
			bad("redis.db", "must be 0 when redis.mode is cluster")
		}
	default:
		bad("redis.mode", "must be single or cluster, got %q", c.Redis.Mode)
	}
	for _, a := range c.Redis.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("redis.addrs", "must be host:port entries, got %q", a)
		}
	}
	if c.Redis.Enabled() {
		if c.Redis.Addr != "" {
			if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
				bad("redis.addr", "must be host:port, got %q", c.Redis.Addr)
			}
		}
		for k, d := range map[string]time.Duration{"redis.dial_timeout": c.Redis.DialTimeout, "redis.read_timeout": c.Redis.ReadTimeout, "redis.write_timeout": c.Redis.WriteTimeout} {
			if d <= 0 {
				bad(k, "must be > 0")
			}
		}
		if c.Redis.PoolSize <= 0 {
			bad("redis.pool_size", "must be > 0")
		}
		if c.Redis.DB < 0 {
			bad("redis.db", "must be >= 0")
		}
	}
	for _, a := range c.ClickHouse.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("clickhouse.addrs", "must be host:port entries, got %q", a)
		}
	}
	if cl := c.ClickHouse.Cluster; cl != "" && !clusterNameRe.MatchString(cl) {
		bad("clickhouse.cluster", "must be a plain identifier, got %q", cl)
	}
	if ch := c.ClickHouse; len(ch.Servers()) > 0 {
		if ch.Addr != "" {
			if _, _, err := net.SplitHostPort(ch.Addr); err != nil {
				bad("clickhouse.addr", "must be host:port, got %q", ch.Addr)
			}
		}
		if ch.Database == "" {
			bad("clickhouse.database", "must be set")
		}
		for k, d := range map[string]time.Duration{"clickhouse.dial_timeout": ch.DialTimeout, "clickhouse.query_timeout": ch.QueryTimeout, "clickhouse.max_execution_time": ch.MaxExecutionTime} {
			if d <= 0 {
				bad(k, "must be > 0")
			}
		}
		if ch.PoolSize <= 0 {
			bad("clickhouse.pool_size", "must be > 0")
		}
	}
	c.validateAuth(bad)
	c.Etcd.validate(bad)
	c.Tracing.validate(bad)
	c.Sentry.validate(bad)
	for _, name := range sortedKeys(c.Routes) {
		r := c.Routes[name]
		if r.Timeout < 0 {
			bad("routes."+name+".timeout", "must be >= 0")
		}
		if r.MaxInFlight < 0 {
			bad("routes."+name+".max_in_flight", "must be >= 0 (0: no limit)")
		}
		if r.RateLimit.RPS < 0 {
			bad("routes."+name+".rate_limit.rps", "must be >= 0 (0: off)")
		}
		if r.RateLimit.Burst < 0 {
			bad("routes."+name+".rate_limit.burst", "must be >= 0")
		}
		for _, k := range []string{"cache_ttl", "cache_grace", "cache_stale_if_error"} {
			if d := map[string]time.Duration{"cache_ttl": r.CacheTTL, "cache_grace": r.CacheGrace, "cache_stale_if_error": r.CacheStaleIfError}[k]; d < 0 {
				bad("routes."+name+"."+k, "must be >= 0")
			}
		}
	}
	if c.Cache.L1MaxEntries <= 0 {
		bad("cache.l1_max_entries", "must be > 0")
	}
	if c.Cache.L1MaxBytes <= 0 {
		bad("cache.l1_max_bytes", "must be > 0")
	}
	if c.Cache.LockTTL < 0 {
		bad("cache.lock_ttl", "must be >= 0")
	}
	if j := c.Cache.TTLJitter; !(j >= 0 && j <= 0.5) {
		bad("cache.ttl_jitter", "must be between 0 and 0.5, got %v", j)
	}
	if b := c.Cache.EarlyRefresh; !(b >= 0 && b <= 10) {
		bad("cache.early_refresh", "must be between 0 (off) and 10, got %v", b)
	}
	if c.Cache.RefreshConcurrency <= 0 {
		bad("cache.refresh_concurrency", "must be > 0")
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseTrustedProxy reads one server.trusted_proxies entry: a CIDR, or a
// bare IP meaning that address alone.
func ParseTrustedProxy(s string) (*net.IPNet, error) {
	s = strings.TrimSpace(s)
	if _, n, err := net.ParseCIDR(s); err == nil {
		return n, nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("%q is not a CIDR (10.0.0.0/8) or an IP", s)
	}
	bits := 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

// loopbackAddr reports whether addr is host:port with a loopback host.
func loopbackAddr(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

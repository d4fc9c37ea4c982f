package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"time"
)

// Config is the framework's part of the configuration. Applications embed it
// with `mapstructure:",squash"` and add their own sections.
type Config struct {
	// Env is the environment in force (from WINGS_ENV), not a file key.
	Env       string              `mapstructure:"env"`
	App       App                 `mapstructure:"app"`
	Server    Server              `mapstructure:"server"`
	Log       Log                 `mapstructure:"log"`
	Upstreams map[string]Upstream `mapstructure:"upstreams"`
	// Routes holds per-route settings keyed by route name.
	Routes map[string]Route `mapstructure:"routes"`
	Redis  Redis            `mapstructure:"redis"`
	// Auth configures login and resource permission (framework/auth).
	Auth Auth `mapstructure:"auth"`
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
}

// App names the service.
type App struct {
	Name string `mapstructure:"name"`
}

// Server configures the HTTP server and its shutdown.
type Server struct {
	Addr string `mapstructure:"addr"`
	// RequestTimeout is the default deadline of every request.
	RequestTimeout    time.Duration `mapstructure:"request_timeout"`
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout must exceed RequestTimeout so deadlines fire first.
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout"`
	// DrainDelay is how long /readyz answers 503 before the listener closes,
	// so load balancers stop sending traffic.
	DrainDelay time.Duration `mapstructure:"drain_delay"`
	// ShutdownTimeout bounds the wait for in-flight requests.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// GzipMinBytes is the smallest body worth compressing.
	GzipMinBytes int  `mapstructure:"gzip_min_bytes"`
	CORS         CORS `mapstructure:"cors"`
}

// CORS lists the origins allowed to call the API from a browser.
type CORS struct {
	AllowOrigins     []string `mapstructure:"allow_origins"`
	AllowCredentials bool     `mapstructure:"allow_credentials"`
	MaxAge           int      `mapstructure:"max_age"`
}

// Log configures the logger.
type Log struct {
	Level  string `mapstructure:"level"`  // trace, debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}

// Upstream configures one named upstream HTTP service.
type Upstream struct {
	BaseURL string        `mapstructure:"base_url"`
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxIdleConns is the keep-alive pool size to this upstream.
	MaxIdleConns int               `mapstructure:"max_idle_conns"`
	Headers      map[string]string `mapstructure:"headers"`
}

// Route holds per-route overrides, keyed by the route's name.
type Route struct {
	Timeout time.Duration `mapstructure:"timeout"`
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
	}
	if c.Redis.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Redis.Addr); err != nil {
			bad("redis.addr", "must be host:port, got %q", c.Redis.Addr)
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
	c.validateAuth(bad)
	for _, name := range sortedKeys(c.Routes) {
		if c.Routes[name].Timeout < 0 {
			bad("routes."+name+".timeout", "must be >= 0")
		}
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

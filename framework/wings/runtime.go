// Package wings is the framework's bootstrap: the Runtime builds the echo
// server, logger, metrics registry and upstream clients from config, owns the
// one HTTP error handler, serves health endpoints, and runs the server with
// graceful shutdown.
//
// Typical main:
//
//	rt, err := wings.New(cfg, wings.Options{Build: build})
//	c, err := app.NewContainer(rt)
//	rt.Handle(app.Routes(c)...)
//	err = rt.Run(ctx) // ctx ends on SIGTERM/SIGINT
package wings

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"
	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/errtrack"
	"github.com/wings-bff/wings/framework/fanout"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/redisclient"
	"github.com/wings-bff/wings/framework/tracing"
	"github.com/wings-bff/wings/framework/upstream"
)

// BuildInfo identifies the binary; main injects it with -ldflags.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
}

// Options are the Runtime's non-config inputs.
type Options struct {
	Build BuildInfo
	// LogOutput defaults to os.Stderr.
	LogOutput io.Writer
	// Identity and Permission, when set, replace the configured auth
	// providers (framework/auth: how to write another provider).
	Identity   auth.IdentityProvider
	Permission auth.PermissionProvider
	// Tracing replaces parts of the tracer provider built from
	// tracing.* (tests pass the SDK's in-memory exporter).
	Tracing tracing.Options
	// ResponseCache, when set, builds the response cache from config once
	// the Runtime is made (pass cache.Install), so the routes' cache
	// settings apply without app code building one.
	ResponseCache func(*Runtime) error
}

// ResponseCache is the response cache a Runtime holds (framework/cache's
// *Cache; cache.Of returns it typed).
type ResponseCache interface {
	Delete(ctx context.Context, key string) error
}

// Hook runs at start or stop. Stop hooks run in reverse order of
// registration, after in-flight requests have drained.
type Hook func(ctx context.Context) error

// callGoroutines bounds the goroutines kept for fan-out calls between
// requests (each holds a stack of some kilobytes while idle): enough for
// the calls of a few hundred requests in flight.
const callGoroutines = 512

// Runtime is the application container's framework half: everything built
// from config that outlives a request.
type Runtime struct {
	cfg       *config.Config
	build     BuildInfo
	log       *logrus.Logger
	metrics   *metrics.Registry
	echo      *echo.Echo
	chain     echo.HandlerFunc // the global middleware over the routed handler; see ServeHTTP
	upstreams map[string]*upstream.Client
	calls     *fanout.Pool // goroutines for requests' fan-out calls
	panics    *recovery.Reporter
	redis     redis.UniversalClient // nil without redis.addr or redis.addrs
	ch        *chclient.Client      // nil without clickhouse.addr
	tracing   *tracing.Provider
	errtrack  *errtrack.Tracker // nil without sentry.dsn

	mu       sync.Mutex
	resil    resilience // load shedding and the stale store; see resilience.go
	hot      hotState   // feature flags and reload hooks; see reload.go
	auth     authState  // login and permission; see auth.go
	routes   []Route
	checks   []Check
	onStart  []Hook
	onStop   []Hook
	routeMWs []func(*Route) echo.MiddlewareFunc // see UseRouteMiddleware
	draining atomic.Bool

	policies  map[string]RoutePolicy // by route name, under mu; see Handle
	respCache ResponseCache          // under mu; see SetResponseCache

	rootCtx    context.Context
	rootCancel context.CancelFunc
	addr       atomic.Value // string, once listening
	pprofAddr  atomic.Value // string, once the profiles are served
}

// New builds a Runtime from cfg.
func New(cfg *config.Config, opts Options) (*Runtime, error) {
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stderr
	}
	log, err := logging.New(cfg.Log, opts.LogOutput)
	if err != nil {
		return nil, err
	}
	if opts.Build.Version == "" {
		opts.Build.Version = "dev"
	}
	rt := &Runtime{
		cfg:       cfg,
		build:     opts.Build,
		log:       log,
		metrics:   metrics.New(opts.Build.Version, opts.Build.Commit),
		upstreams: map[string]*upstream.Client{},
		calls:     fanout.NewPool(callGoroutines),
	}
	rt.panics = recovery.NewReporter(log, rt.metrics.Panics)
	rt.rootCtx, rt.rootCancel = context.WithCancel(context.Background())
	if err := rt.initTracing(opts.Tracing); err != nil {
		return nil, err
	}
	if err := rt.initErrtrack(); err != nil {
		return nil, err
	}
	for name, ucfg := range cfg.Upstreams {
		rt.upstreams[name] = upstream.New(name, ucfg, rt.metrics, log)
		rt.upstreams[name].SetTracing(rt.tracing)
	}
	if rdb := NewRedis(cfg.Redis); rdb != nil {
		rt.redis = rdb
		rt.traceRedis()
		rt.redis.AddHook(redisclient.NewHook(rt.metrics.Registerer()))
		rt.AddCheck(Check{Name: "redis", Fn: func(ctx context.Context) error { return rt.redis.Ping(ctx).Err() }})
		rt.OnStop(func(context.Context) error { return rt.redis.Close() })
	}
	if cc := cfg.ClickHouse; len(cc.Servers()) > 0 {
		ch, err := chclient.New(cc)
		if err != nil {
			return nil, err
		}
		ch.Instrument(chclient.NewMetrics(rt.metrics.Registerer()))
		rt.ch = ch
		ch.SetTracing(rt.tracing)
		rt.AddCheck(Check{Name: "clickhouse", Fn: ch.Ping})
		rt.OnStop(func(context.Context) error { return ch.Close() })
	}
	aopts := auth.Options{Identity: opts.Identity, Permission: opts.Permission, Log: log, Panics: rt.panics}
	if rt.tracing.Enabled() { // the SSO continues the request's trace
		aopts.HTTPClient = &http.Client{Transport: rt.tracing.Transport(&http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second})}
	}
	a, err := auth.New(cfg.Auth, cfg.Env, aopts)
	if err != nil {
		return nil, err
	}
	rt.auth.a = a
	trusted := make([]*net.IPNet, 0, len(cfg.Server.TrustedProxies))
	for _, p := range cfg.Server.TrustedProxies {
		n, err := config.ParseTrustedProxy(p)
		if err != nil {
			return nil, fmt.Errorf("server.trusted_proxies: %w", err)
		}
		trusted = append(trusted, n)
	}
	rt.echo, rt.chain = rt.newEcho(trusted)
	rt.AddCheck(Check{Name: "upstreams", Fn: rt.checkUpstreams})
	if opts.ResponseCache != nil {
		if err := opts.ResponseCache(rt); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// SetResponseCache records c as rt's response cache. A Runtime has one:
// a second call fails.
func (rt *Runtime) SetResponseCache(c ResponseCache) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.respCache != nil {
		return errors.New("wings: the runtime already has a response cache")
	}
	rt.respCache = c
	return nil
}

// ResponseCache returns rt's response cache, or nil when none was built.
func (rt *Runtime) ResponseCache() ResponseCache {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.respCache
}

// newEcho builds the echo instance (error handler, built-in routes) and
// the global middleware chain, composed once here rather than by echo on
// every request (see ServeHTTP).
func (rt *Runtime) newEcho(trusted []*net.IPNet) (*echo.Echo, echo.HandlerFunc) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard) // we log through logrus only
	e.HTTPErrorHandler = rt.handleError
	e.IPExtractor = ipExtractor(trusted)
	ids := newIDGenerator()
	global := []echo.MiddlewareFunc{middleware.RequestID(ids)}
	if rt.tracing.Enabled() {
		global[0] = middleware.RequestIDTrace(ids, rt.tracing)
	}
	global = append(global,
		middleware.Metrics(rt.metrics),
		middleware.AccessLog(rt.log),
		middleware.Recover(rt.panics),
		requestSizeGuard(rt.cfg.Server.MaxHeaderBytes),
	)
	if cors := rt.cfg.Server.CORS; len(cors.AllowOrigins) > 0 {
		global = append(global, echomw.CORSWithConfig(echomw.CORSConfig{
			AllowOriginFunc:  corsOriginAllowed(cors.AllowOrigins, cors.AllowCredentials), // exact origins only
			AllowCredentials: cors.AllowCredentials,
			MaxAge:           cors.MaxAge,
			AllowHeaders:     []string{echo.HeaderContentType, echo.HeaderAuthorization, echo.HeaderXRequestID},
			ExposeHeaders:    []string{echo.HeaderXRequestID},
		}))
	}
	global = append(global,
		echomw.GzipWithConfig(echomw.GzipConfig{Level: 1, MinLength: rt.cfg.Server.GzipMinBytes}),
		callbackGuard,
	)
	e.GET("/healthz", rt.healthz)
	e.GET("/readyz", rt.readyz)
	e.GET("/version", rt.version)
	e.GET("/metrics", echo.WrapHandler(rt.metrics.Handler()))
	rt.registerLogin(e)
	routed := func(c echo.Context) error { return c.Handler()(c) }
	return e, compose(routed, global)
}

// compose wraps h in mws, the first outermost: what echo does for every
// request when middleware is registered with it, done once.
func compose(h echo.HandlerFunc, mws []echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Config returns the configuration the Runtime was built from.
func (rt *Runtime) Config() *config.Config { return rt.cfg }

// Logger returns the process logger.
func (rt *Runtime) Logger() *logrus.Logger { return rt.log }

// Metrics returns the process registry.
func (rt *Runtime) Metrics() *metrics.Registry { return rt.metrics }

// Panics logs and counts the panics that components built on the Runtime
// recover (wings_panics_total{where}).
func (rt *Runtime) Panics() *recovery.Reporter { return rt.panics }

// Echo returns the echo instance, for unusual routes. Middleware added to
// it with Use or Pre does not run: the Runtime serves requests with its own
// chain (ServeHTTP); add route middleware with Route.Middleware or
// UseRouteMiddleware.
func (rt *Runtime) Echo() *echo.Echo { return rt.echo }

// Build returns the binary's build information.
func (rt *Runtime) Build() BuildInfo { return rt.build }

// Context is cancelled when the Runtime stops; background work (jobs, cache
// refreshes) runs under it.
func (rt *Runtime) Context() context.Context { return rt.rootCtx }

// Addr returns the address the server listens on, once Run has started.
func (rt *Runtime) Addr() string {
	s, _ := rt.addr.Load().(string)
	return s
}

// PprofAddr is the address server.pprof_addr is bound to (its port
// resolved) while the profiles are served, or "".
func (rt *Runtime) PprofAddr() string {
	s, _ := rt.pprofAddr.Load().(string)
	return s
}

// Draining reports whether shutdown has begun.
func (rt *Runtime) Draining() bool { return rt.draining.Load() }

// Redis returns the shared Redis client, or nil when redis.addr is empty.
// Callers must treat Redis as optional and bound every call with a timeout.
func (rt *Runtime) Redis() redis.UniversalClient { return rt.redis }

// ClickHouse returns the shared ClickHouse client, or nil when
// clickhouse.addr is empty.
func (rt *Runtime) ClickHouse() *chclient.Client { return rt.ch }

// Upstream returns the client of a configured upstream.
func (rt *Runtime) Upstream(name string) (*upstream.Client, error) {
	c, ok := rt.upstreams[name]
	if !ok {
		return nil, fmt.Errorf("upstreams.%s: not configured", name)
	}
	return c, nil
}

// OnStart registers a hook that runs before the server listens; an error
// aborts the start.
func (rt *Runtime) OnStart(h Hook) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.onStart = append(rt.onStart, h)
}

// OnStop registers a hook that runs after requests have drained, in reverse
// registration order: close what you opened.
func (rt *Runtime) OnStop(h Hook) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.onStop = append(rt.onStop, h)
}

// ServeHTTP serves a request through the full stack; the server uses it,
// and tests drive it without a listener. It is echo's ServeHTTP with the
// global middleware composed once at start-up: echo (v4) re-applies
// registered middleware on every request, one closure allocation per
// middleware per request, a measurable share of a cache hit.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := rt.echo
	c := e.AcquireContext()
	c.Reset(r, w)
	e.Router().Find(r.Method, echo.GetPath(r), c)
	if err := rt.chain(c); err != nil {
		e.HTTPErrorHandler(err, c)
	}
	e.ReleaseContext(c)
}

// Run checks the route table, runs the start hooks, listens on
// server.addr and serves until ctx ends (normally on SIGTERM or SIGINT).
// Then it drains: /readyz turns 503 at once, the listener stays open for
// server.drain_delay so load balancers notice, then it closes and in-flight
// requests get up to server.shutdown_timeout to finish; finally stop hooks
// close clients.
func (rt *Runtime) Run(ctx context.Context) error { return rt.run(ctx, nil) }

// Serve is Run on an existing listener, which it closes: the same checks
// and start hooks first, then the same serving and draining.
func (rt *Runtime) Serve(ctx context.Context, ln net.Listener) error { return rt.run(ctx, ln) }

// run is the one start-up path of Run and Serve: no server starts before
// the route table passed its checks and every start hook succeeded.
func (rt *Runtime) run(ctx context.Context, ln net.Listener) error {
	err := rt.start(ctx)
	if err == nil && ln == nil {
		ln, err = rt.listen(ctx)
	}
	if err != nil {
		if ln != nil {
			_ = ln.Close()
		}
		return err
	}
	return rt.serve(ctx, ln)
}

// start checks the route table and runs the start hooks.
func (rt *Runtime) start(ctx context.Context) error {
	if err := rt.routeAuthErr(); err != nil {
		return err
	}
	rt.mu.Lock()
	hooks := append([]Hook(nil), rt.onStart...)
	rt.mu.Unlock()
	for _, h := range hooks {
		if err := h(ctx); err != nil {
			return fmt.Errorf("start: %w", err)
		}
	}
	return nil
}

// serve serves on ln until ctx ends, then drains (see Run).
func (rt *Runtime) serve(ctx context.Context, ln net.Listener) error {
	s := rt.cfg.Server
	srv := &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    netHTTPHeaderLimit(s.MaxHeaderBytes),
		ErrorLog:          nil,
	}
	stopPprof, err := rt.servePprof()
	if err != nil {
		return fmt.Errorf("server.pprof_addr: %w", err)
	}
	defer stopPprof()
	rt.addr.Store(ln.Addr().String())
	rt.log.WithFields(logrus.Fields{
		"addr": ln.Addr().String(), "env": rt.cfg.Env, "version": rt.build.Version,
	}).Info("listening")
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		rt.stop()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	rt.draining.Store(true)
	rt.log.WithField("drain_delay", s.DrainDelay.String()).Info("draining")
	time.Sleep(s.DrainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		rt.log.WithError(err).Warn("shutdown timed out; closing remaining connections")
		_ = srv.Close()
	}
	if stopErr := rt.stop(); stopErr != nil && err == nil {
		err = stopErr
	}
	rt.log.Info("stopped")
	return err
}

func (rt *Runtime) stop() error {
	rt.rootCancel()
	ctx, cancel := context.WithTimeout(context.Background(), rt.cfg.Server.ShutdownTimeout)
	defer cancel()
	var errs []error
	for i := len(rt.onStop) - 1; i >= 0; i-- {
		if err := rt.onStop[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range rt.upstreams {
		c.Close()
	}
	rt.calls.Close()
	return errors.Join(errs...)
}

// Routes returns the registered application routes, sorted by path.
func (rt *Runtime) Routes() []Route {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := append([]Route(nil), rt.routes...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

// newIDGenerator returns request ids made of a random per-process prefix and
// a counter: unique across processes, cheap to make.
func newIDGenerator() func() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := hex.EncodeToString(b[:]) + "-"
	var n atomic.Uint64
	return func() string {
		return prefix + strconv.FormatUint(n.Add(1), 36)
	}
}

// Package cache is Wings' response and data cache: an in-process L1 (an LRU
// bounded in entries and bytes) in front of Redis (when redis.addr is set),
// with one computation per key at a time, stale-while-revalidate,
// stale-if-error, and an outage-proof Redis level.
//
// # Setup
//
// A Runtime has one Cache, built from config with the Runtime:
//
//	rt, err := wings.New(cfg, wings.Options{ResponseCache: cache.Install})
//	c := cache.Of(rt)         // in app.NewContainer
//	rt.Handle(app.Routes(...)...)
//
// Install (or New) installs the response-cache middleware for every route that declares
// Cache options (or routes.<name>.cache_ttl in config), and the admin
// endpoint POST /admin/cache/purge.
//
// # Data cache for services
//
// Services that cache a composed model rather than a whole response use
// GetOrLoad (bytes) or GetOrLoadJSON (any JSON-able type):
//
//	stats, err := cache.GetOrLoadJSON(ctx, c, "dash:overview:video", time.Minute,
//		func(ctx context.Context) (*Overview, error) { return svc.compute(ctx) })
//
// The guarantees are those of the response cache: concurrent misses of a key
// run the loader once per process (and, with cache.lock_ttl, about once
// across instances); the loader runs under a context that keeps the caller's
// values and deadline but not its cancellation, so one caller giving up does
// not fail the others; when the loader fails with anything but a caller
// error (bad_param, not_found, unauthorized, forbidden), an entry up to one
// more ttl old is returned instead; Redis being down or slow only costs a
// bounded timeout, after which Redis is skipped for a second. Use Fetch with
// a Policy for other windows, Delete/Purge to invalidate.
//
// # Keys
//
// Data keys are the caller's strings ("d:" inside). Response keys are the
// request path (so path parameters are in it), then the query parameters
// the route declares (wings.Route.Query), each with its first value as
// c.QueryParam reads it, then the caller's permission scope (reqctx.Scope)
// when there is one, then the route's Vary; a key part longer than 256
// bytes is replaced by its SHA-256. No other parameter reaches a key, and
// on a miss the handler is given only the declared ones, so what it reads
// is what the entry is keyed by. JSONP callbacks and `fields` need no
// declaration: the cache stores the handler's full data and every answer
// is filtered and wrapped per request; a handler that reads `fields`
// itself to skip work declares it.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/singleflight"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/metrics"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/wings"
)

// Status says how an answer was served: the X-Cache header's value.
type Status string

// The statuses a Fetch reports.
const (
	Hit   Status = "HIT"
	Miss  Status = "MISS"
	Stale Status = "STALE"
)

// Policy is how long an entry is fresh, and how long after that it may
// still be served.
type Policy struct {
	// TTL is how long an entry is fresh.
	TTL time.Duration
	// Grace serves an entry up to TTL+Grace old as STALE while one
	// background refresh runs.
	Grace time.Duration
	// StaleIfError serves an entry up to TTL+StaleIfError old as STALE when
	// the loader fails with a server-side error.
	StaleIfError time.Duration
}

// Result is a value with how it was served.
type Result struct {
	Value   []byte
	Written time.Time
	Status  Status
}

// Age is how long ago the value was computed.
func (r Result) Age() time.Duration { return time.Since(r.Written) }

// Loader computes a value on a miss. TTL, when > 0, overrides the policy's
// (e.g. shorter for a degraded answer).
type Loader func(ctx context.Context) (value []byte, ttl time.Duration, err error)

// Cache is the two-level cache of one Runtime.
type Cache struct {
	rt     *wings.Runtime
	tr     trace.Tracer // nil: tracing off; see trace.go
	l1     *l1
	remote *remote
	sf     singleflight.Group
	bg     context.Context

	// now and rand are the clock and the random source of expiry jitter
	// and early refresh; tests replace them.
	now  func() time.Time
	rand func() float64
	// jitter and beta are cache.ttl_jitter and cache.early_refresh.
	jitter, beta float64
	// slots holds one token per running background refresh
	// (cache.refresh_concurrency); refreshing, the keys being refreshed.
	slots      chan struct{}
	refreshing sync.Map
	skipped    prometheus.Counter

	requests *prometheus.CounterVec                        // layer, result
	series   metrics.Series[[2]string, prometheus.Counter] // requests' children, kept once made

	mu     sync.Mutex
	routes []*routePolicy // cached routes, retuned by reload
}

// defaultRefreshConcurrency is cache.refresh_concurrency's default.
const defaultRefreshConcurrency = 16

// defaultL1MaxEntries and defaultL1MaxBytes bound the L1 of a config built
// in code without cache.l1_max_entries and cache.l1_max_bytes.
const (
	defaultL1MaxEntries = 10000
	defaultL1MaxBytes   = 64 << 20
)

// Install builds rt's Cache (New); pass it as wings.Options.ResponseCache
// so wings.New builds the cache from config, and get it with Of.
func Install(rt *wings.Runtime) error {
	_, err := New(rt)
	return err
}

// Of returns the Cache built for rt (Install or New), or nil.
func Of(rt *wings.Runtime) *Cache {
	c, _ := rt.ResponseCache().(*Cache)
	return c
}

// New builds the Cache of rt from its config, installs the response-cache
// middleware and the admin purge endpoint, and subscribes to purges from
// other instances. A Runtime has one Cache, built before Handle: a second
// New fails. Prefer wings.Options{ResponseCache: Install} and Of.
func New(rt *wings.Runtime) (*Cache, error) {
	if rt.ResponseCache() != nil {
		return nil, errors.New("cache: the runtime already has a response cache (use cache.Of)")
	}
	cfg := rt.Config()
	slots := cfg.Cache.RefreshConcurrency
	if slots <= 0 { // a config built in code rather than loaded
		slots = defaultRefreshConcurrency
	}
	l1Entries, l1Bytes := cfg.Cache.L1MaxEntries, cfg.Cache.L1MaxBytes
	if l1Entries <= 0 || l1Bytes <= 0 { // likewise: conf/config.default.yaml's bounds
		l1Entries, l1Bytes = defaultL1MaxEntries, defaultL1MaxBytes
	}
	c := &Cache{
		rt:     rt,
		tr:     tracer(rt),
		l1:     newL1(l1Entries, l1Bytes),
		bg:     rt.Context(),
		now:    time.Now,
		rand:   rand.Float64,
		jitter: cfg.Cache.TTLJitter,
		beta:   cfg.Cache.EarlyRefresh,
		slots:  make(chan struct{}, slots),
	}
	c.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "cache_requests_total",
		Help: "Cache lookups by layer (l1, redis, origin) and result (hit, miss, stale, error).",
	}, []string{"layer", "result"})
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "cache_l1_entries", Help: "Entries in the in-process cache.",
	}, func() float64 { return float64(c.l1.entries.Load()) })
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "cache_l1_bytes", Help: "Bytes accounted to the in-process cache.",
	}, func() float64 { return float64(c.l1.bytes.Load()) })
	c.skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "cache_refresh_skipped_total",
		Help: "Background refreshes not started because cache.refresh_concurrency were running; the entry was served as it was.",
	})
	rt.Metrics().MustRegister(c.requests, entries, size, c.skipped)
	for _, layer := range []string{"l1", "redis", "origin"} {
		for _, res := range []string{"hit", "miss", "stale", "error"} {
			c.requests.WithLabelValues(layer, res)
		}
	}
	rc := cfg.Redis
	c.remote = &remote{
		rdb:       rt.Redis(),
		ns:        "wings:" + cfg.App.Name + ":c:",
		opTimeout: rc.DialTimeout + rc.ReadTimeout + rc.WriteTimeout,
		log:       rt.Logger(),
		onError:   func() { c.requests.WithLabelValues("redis", "error").Inc() },
	}
	c.remote.lockTTL.Store(int64(cfg.Cache.LockTTL))
	if err := rt.SetResponseCache(c); err != nil {
		return nil, err
	}
	rt.OnReload(c.reload)
	if c.remote.rdb != nil {
		go c.subscribe()
		go c.trimLoop()
	}
	rt.UseRouteMiddleware(c.routeMiddleware)
	rt.Echo().POST("/admin/cache/purge", c.adminPurge)
	return c, nil
}

// count adds one to wings_cache_requests_total{layer,result}; a hit
// counts on every request, so the child series are kept (metrics.Series).
func (c *Cache) count(layer, result string) {
	k := [2]string{layer, result}
	ctr, ok := c.series.Load(k)
	if !ok {
		ctr = c.series.Store(k, c.requests.WithLabelValues(layer, result))
	}
	ctr.Inc()
}

// GetOrLoad returns the value under key, computing it with load on a miss
// and keeping it fresh for ttl. When load fails, a value up to another ttl
// old is returned instead, if there is one. See the package doc.
func (c *Cache) GetOrLoad(ctx context.Context, key string, ttl time.Duration, load func(ctx context.Context) ([]byte, error)) ([]byte, error) {
	res, err := c.Fetch(ctx, "d:"+key, Policy{TTL: ttl, StaleIfError: ttl}, func(ctx context.Context) ([]byte, time.Duration, error) {
		v, err := load(ctx)
		return v, 0, err
	})
	return res.Value, err
}

// GetOrLoadJSON is GetOrLoad for any JSON-able value: it stores the JSON of
// what load returns and decodes it on hits.
func GetOrLoadJSON[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(ctx context.Context) (T, error)) (T, error) {
	var out T
	b, err := c.GetOrLoad(ctx, key, ttl, func(ctx context.Context) ([]byte, error) {
		v, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, apperr.Wrap(apperr.KindInternal, err, "internal error")
	}
	return out, nil
}

// Delete drops the GetOrLoad entry under key from this instance, Redis and
// (through Redis) every other instance.
func (c *Cache) Delete(ctx context.Context, key string) error {
	_, err := c.purge(ctx, "d:"+key, false)
	return err
}

// Fetch is the cache's one read path, for an internal key ("d:..." or
// "r:..."), under policy p.
func (c *Cache) Fetch(ctx context.Context, ikey string, p Policy, load Loader) (Result, error) {
	return c.fetch(ctx, ikey, p, func() Loader { return load })
}

// fetch is Fetch with the loader made only when needed (never on a hit);
// mk runs before fetch returns.
func (c *Cache) fetch(ctx context.Context, ikey string, p Policy, mk func() Loader) (res Result, err error) {
	if c.tr != nil && trace.SpanFromContext(ctx).IsRecording() {
		var end func(Result, error)
		ctx, end = c.startLookup(ctx, ikey)
		defer func() { end(res, err) }()
	}
	now := c.now()
	e := c.l1.get(ikey, now)
	switch {
	case e != nil && now.Before(e.freshUntil(p)):
		c.count("l1", "hit")
		if c.refreshEarly(e, e.freshUntil(p).Sub(now)) {
			c.refresh(ctx, ikey, p, mk(), e.written)
		}
		return Result{Value: e.value, Written: e.written, Status: Hit}, nil
	case e == nil:
		c.count("l1", "miss")
	}
	// L1 has nothing fresh: Redis may (another instance refreshed it).
	if c.remote.usable() {
		if re, err := c.remote.get(ctx, ikey); err == nil {
			switch {
			case re == nil:
				c.count("redis", "miss")
			case now.Before(re.freshUntil(p)):
				c.count("redis", "hit")
				c.l1.set(ikey, re)
				return Result{Value: re.value, Written: re.written, Status: Hit}, nil
			case e == nil || re.written.After(e.written):
				e = re
				c.l1.set(ikey, re)
			}
		}
	} else if c.remote.rdb != nil {
		c.count("redis", "error")
	}
	// e is nil or past its TTL.
	if e != nil && now.Before(e.freshUntil(p).Add(p.Grace)) {
		c.count("l1", "stale")
		c.refresh(ctx, ikey, p, mk(), e.written)
		return Result{Value: e.value, Written: e.written, Status: Stale}, nil
	}
	ne, err := c.load(ctx, ikey, p, mk())
	if err != nil {
		if e != nil && now.Before(e.freshUntil(p).Add(p.StaleIfError)) && serverSide(err) {
			c.count("origin", "stale")
			return Result{Value: e.value, Written: e.written, Status: Stale}, nil
		}
		c.count("origin", "error")
		return Result{}, err
	}
	c.count("origin", "miss")
	return Result{Value: ne.value, Written: ne.written, Status: Miss}, nil
}

// serverSide reports whether err is the kind of failure a stale entry may
// hide: not the caller's own mistake or a definite absence.
func serverSide(err error) bool {
	var u *uncacheable
	if errors.As(err, &u) {
		return false
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		switch ae.Kind {
		case apperr.KindBadParam, apperr.KindNotFound, apperr.KindUnauthorized, apperr.KindForbidden:
			return false
		}
	}
	return true
}

// load runs the loader once per key in this process: concurrent callers
// share the leader's result, a panic in it included, as an internal error
// (singleflight would re-panic it in a goroutine nothing recovers). The loader keeps the caller's values and
// deadline but not its cancellation; each caller waits only until its own
// context ends.
func (c *Cache) load(ctx context.Context, ikey string, p Policy, load Loader) (*entry, error) {
	ch := c.sf.DoChan(ikey, func() (any, error) {
		lctx := context.WithoutCancel(ctx)
		var cancel context.CancelFunc
		if dl, ok := ctx.Deadline(); ok {
			lctx, cancel = context.WithDeadline(lctx, dl)
		} else {
			lctx, cancel = context.WithTimeout(lctx, c.rt.Config().Server.RequestTimeout)
		}
		defer cancel()
		e, err := recovery.Call(func() (*entry, error) { return c.compute(lctx, ikey, p, load, time.Time{}) })
		c.rt.Panics().Report(ctx, "cache_load", err)
		return e, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, apperr.Wrap(apperr.KindUpstreamTimeout, ctx.Err(), "timed out waiting for the answer")
	}
}

// refresh recomputes ikey, whose entry written at seen the caller served,
// in the background, once, under the Runtime's
// context (with the caller's values and the server's request timeout). A
// panic in the loader is logged and counted; the entry stays as it was. At
// most cache.refresh_concurrency refreshes run at once: past that the
// refresh is skipped (counted), and a later hit or stale read asks again.
func (c *Cache) refresh(ctx context.Context, ikey string, p Policy, load Loader, seen time.Time) {
	if _, busy := c.refreshing.LoadOrStore(ikey, struct{}{}); busy {
		return
	}
	select {
	case c.slots <- struct{}{}:
	default:
		c.refreshing.Delete(ikey)
		c.skipped.Inc()
		return
	}
	go func() {
		defer func() {
			c.refreshing.Delete(ikey)
			<-c.slots
		}()
		// Do, not DoChan: a miss of the same key already loading is joined
		// on this goroutine instead of a new one.
		_, _, _ = c.sf.Do(ikey, func() (any, error) {
			bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.rt.Config().Server.RequestTimeout)
			defer cancel()
			stop := context.AfterFunc(c.bg, cancel)
			defer stop()
			e, err := recovery.Call(func() (*entry, error) { return c.compute(bctx, ikey, p, load, seen) })
			if err != nil {
				c.count("origin", "error")
				c.rt.Panics().Report(ctx, "cache_refresh", err)
			}
			return e, err
		})
	}()
}

// refreshEarly reports whether a hit on e, fresh for left more, starts a
// background refresh now: XFetch (Vattani et al., "Optimal Probabilistic
// Cache Stampede Prevention", VLDB 2015) refreshes when
// cost * beta * -ln(u) >= left, u uniform in (0, 1], so with probability
// exp(-left / (cost*beta)): rarely long before expiry, almost surely just
// before it, and earlier for entries slow to compute. Entries read from
// Redis carry no cost and only expire.
func (c *Cache) refreshEarly(e *entry, left time.Duration) bool {
	if e.cost <= 0 || c.beta <= 0 {
		return false
	}
	scale := float64(e.cost) * c.beta
	if float64(left) > 20*scale { // probability below exp(-20): skip the draw
		return false
	}
	return -scale*math.Log(1-c.rand()) >= float64(left)
}

// jittered is ttl shortened by a random share below cache.ttl_jitter.
func (c *Cache) jittered(ttl time.Duration) time.Duration {
	if c.jitter <= 0 {
		return ttl
	}
	return ttl - time.Duration(float64(ttl)*c.jitter*c.rand())
}

// compute runs the loader (behind the optional Redis lock) and stores what
// it returns in both levels. seen is when the entry the caller saw was
// written (zero for a miss).
func (c *Cache) compute(ctx context.Context, ikey string, p Policy, load Loader, seen time.Time) (*entry, error) {
	// A caller that missed (or saw an older entry) just before the previous
	// flight stored its entry starts a new flight: give it that entry
	// instead of a new load.
	now := c.now()
	if e := c.l1.get(ikey, now); e != nil && now.Before(e.freshUntil(p)) && e.written.After(seen) {
		return e, nil
	}
	if lockTTL := time.Duration(c.remote.lockTTL.Load()); lockTTL > 0 && c.remote.usable() {
		if !c.remote.lock(ctx, ikey) {
			// Another instance computes it: wait for its entry, up to lock_ttl.
			deadline := time.Now().Add(lockTTL)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
				if e, err := c.remote.get(ctx, ikey); err == nil && e != nil && time.Now().Before(e.freshUntil(p)) {
					c.l1.set(ikey, e)
					return e, nil
				} else if err != nil {
					break
				}
			}
		} else {
			defer c.remote.unlock(ctx, ikey)
		}
	}
	start := c.now()
	v, ttl, err := load(ctx)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 || ttl > p.TTL {
		ttl = p.TTL
	}
	ttl = c.jittered(ttl)
	now = c.now()
	e := &entry{value: v, written: now, expires: now.Add(ttl), keep: now.Add(ttl + max(p.Grace, p.StaleIfError)), cost: now.Sub(start)}
	c.l1.set(ikey, e)
	if c.remote.usable() {
		_ = c.remote.set(ctx, ikey, e)
	}
	return e, nil
}

// PurgeResult says what a purge removed.
type PurgeResult struct {
	Target string `json:"target"`
	L1     int    `json:"l1"`
	Redis  int    `json:"redis"`
}

// Purge invalidates by target: a path ("/api/video/42": every cached
// variant of it, whatever the query or scope), a path prefix ending in / or
// * ("/api/video/"), a data key, or a data key prefix ending in *. It
// clears this instance's L1 and Redis, and through Redis pub/sub every
// other instance's L1.
func (c *Cache) Purge(ctx context.Context, target string) (PurgeResult, error) {
	ikey, prefix, err := purgeKey(target)
	if err != nil {
		return PurgeResult{Target: target}, err
	}
	return c.purge(ctx, ikey, prefix)
}

// purgeKey maps a purge target onto an internal key or prefix.
func purgeKey(target string) (ikey string, prefix bool, err error) {
	if target == "" || len(target) > 1024 {
		return "", false, apperr.BadParam("target: must be a path (/api/video/42), a path prefix (/api/video/) or a data key, at most 1024 bytes")
	}
	if strings.HasPrefix(target, "/") {
		if p, ok := strings.CutSuffix(target, "*"); ok {
			return "r:" + p, true, nil
		}
		if strings.HasSuffix(target, "/") {
			return "r:" + target, true, nil
		}
		return string(appendPath([]byte("r:"), target)) + "?", true, nil // every query and scope of this path
	}
	if p, ok := strings.CutSuffix(target, "*"); ok {
		return "d:" + p, true, nil
	}
	return "d:" + target, false, nil
}

func (c *Cache) purge(ctx context.Context, ikey string, prefix bool) (PurgeResult, error) {
	res := PurgeResult{Target: strings.TrimPrefix(strings.TrimPrefix(ikey, "r:"), "d:")}
	if prefix {
		res.L1 = c.l1.removePrefix(ikey)
	} else if c.l1.remove(ikey) {
		res.L1 = 1
	}
	if c.remote.rdb == nil {
		return res, nil
	}
	n, err := c.remote.purge(ctx, ikey, prefix)
	res.Redis = n
	if err != nil {
		return res, apperr.Wrap(apperr.KindUnavailable, err, "redis unavailable: purged this instance's L1 only")
	}
	return res, nil
}

// subscribe drops purged keys from L1 when any instance purges. go-redis
// reconnects the subscription by itself after an outage.
func (c *Cache) subscribe() {
	ps := c.remote.rdb.Subscribe(c.bg, c.remote.ns+"purge")
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-c.bg.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			c.rt.Panics().Report(c.bg, "cache_purge", recovery.Do(func() error {
				c.dropPurged(m.Payload)
				return nil
			}))
		}
	}
}

// dropPurged drops from L1 what a purge message names: "=" and a key, or
// "*" and a prefix.
func (c *Cache) dropPurged(payload string) {
	if len(payload) < 2 {
		return
	}
	if k := payload[1:]; payload[0] == '*' {
		c.l1.removePrefix(k)
	} else {
		c.l1.remove(k)
	}
}

// trimLoop keeps Redis' key index from growing with expired entries.
func (c *Cache) trimLoop() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.bg.Done():
			return
		case <-t.C:
			c.rt.Panics().Report(c.bg, "cache_trim", recovery.Do(func() error {
				c.remote.trim(c.bg)
				return nil
			}))
		}
	}
}

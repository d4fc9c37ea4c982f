package cache

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/wings"
)

// degradedTTL caps the freshness of partial answers (degraded or stale
// members in meta), so a healed upstream shows up soon.
const degradedTTL = 5 * time.Second

// policyOf is the route's cache policy under cfg (wings.ResolvePolicy). A
// zero TTL means the route is not cached.
func policyOf(r *wings.Route, cfg *config.Config) (Policy, *wings.CacheOptions) {
	rp := wings.ResolvePolicy(*r, cfg)
	opts := r.Cache
	if opts == nil {
		opts = &wings.CacheOptions{}
	}
	return Policy{TTL: rp.CacheTTL, Grace: rp.CacheGrace, StaleIfError: rp.CacheStaleIfError}, opts
}

// routePolicy is a cached route's policy in force, swapped whole by the
// config hot reload.
type routePolicy struct {
	route  *wings.Route
	policy atomic.Pointer[Policy]
}

// reload applies the hot keys of next (wings.Runtime.OnReload): the cached
// routes' routes.<name>.cache_ttl, cache_grace and cache_stale_if_error, and
// cache.lock_ttl, for lookups from now on. A lowered TTL applies to the
// entries already stored too; a raised one to entries written from now on.
// A route that had no response cache at start gets one only at a restart;
// one cached only by its routes.<name>.cache_ttl stops being cached when
// that key is removed.
func (c *Cache) reload(next *config.Config) {
	c.remote.lockTTL.Store(int64(next.Cache.LockTTL))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rp := range c.routes {
		p, _ := policyOf(rp.route, next)
		rp.policy.Store(&p)
	}
}

// routeMiddleware is installed through wings.UseRouteMiddleware: it returns
// the response-cache middleware for cached GET routes, nil for the others.
func (c *Cache) routeMiddleware(r *wings.Route) echo.MiddlewareFunc {
	p, opts := policyOf(r, c.rt.Config())
	if p.TTL <= 0 {
		return nil
	}
	rp := &routePolicy{route: r}
	rp.policy.Store(&p)
	names := queryNames(r.Query)
	c.mu.Lock()
	c.routes = append(c.routes, rp)
	c.mu.Unlock()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			p := *rp.policy.Load()
			if p.TTL <= 0 {
				return next(ec) // routes.<name>.cache_ttl reloaded to 0: not cached
			}
			req := ec.Request()
			scope := reqctx.Scope(req.Context())
			if opts.Private && scope == "" {
				return next(ec) // a private answer with no scope to key it by
			}
			var vary string
			if opts.Vary != nil {
				vary = opts.Vary(ec)
			}
			key, query := routeKey(req.URL.Path, req.URL.RawQuery, names, scope, vary)
			res, err := c.fetch(req.Context(), key, p, func() Loader { return c.routeLoader(ec, next, query) })
			if err != nil {
				var u *uncacheable
				if errors.As(err, &u) {
					return u.replay(ec)
				}
				return err
			}
			// Both values in one allocation; the keys are canonical.
			vals := [2]string{string(res.Status), strconv.FormatInt(int64(res.Age()/time.Second), 10)}
			h := ec.Response().Header()
			h["X-Cache"], h["Age"] = vals[0:1:1], vals[1:2:2]
			data, meta := decodeValue(res.Value)
			return wings.Data(ec, data, meta)
		}
	}
}

// routeLoader runs the rest of the chain (the handler) on a fresh echo
// context with a recorder, capturing the data it answers through
// wings.JSON/Data. The handler's request carries query, the canonical
// query of the key, in place of the client's: it reads exactly what the
// entry is keyed by. It copies what it needs from ec first: the loader may
// run in the background after ec has gone back to echo's pool.
func (c *Cache) routeLoader(ec echo.Context, next echo.HandlerFunc, query string) Loader {
	req := ec.Request()
	path := ec.Path()
	names := slices.Clone(ec.ParamNames())
	values := slices.Clone(ec.ParamValues())
	route := wings.RouteOf(ec)
	e := ec.Echo()
	return func(ctx context.Context) ([]byte, time.Duration, error) {
		rec := httptest.NewRecorder()
		r2 := req.Clone(ctx)
		r2.URL.RawQuery = query
		c2 := e.NewContext(r2, rec)
		c2.SetPath(path)
		c2.SetParamNames(names...)
		c2.SetParamValues(values...)
		if route != nil {
			wings.SetRoute(c2, route)
		}
		var data []byte
		var meta render.Meta
		captured := false
		wings.SetDataSink(c2, func(d []byte, m render.Meta) {
			data, meta, captured = bytes.Clone(d), m, true
		})
		if err := next(c2); err != nil {
			return nil, 0, err
		}
		if !captured || rec.Code != http.StatusOK {
			return nil, 0, &uncacheable{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		}
		var ttl time.Duration
		if len(meta.Degraded) > 0 || len(meta.Stale) > 0 {
			ttl = degradedTTL
		}
		return encodeValue(data, meta), ttl, nil
	}
}

// uncacheable carries an answer the handler wrote by itself (not through
// JSON/Data, or not 200): it is passed through, never stored.
type uncacheable struct {
	status int
	header http.Header
	body   []byte
}

func (u *uncacheable) Error() string { return "cache: answer not made through wings.Data" }

func (u *uncacheable) replay(ec echo.Context) error {
	h := ec.Response().Header()
	for k, v := range u.header {
		h[k] = v
	}
	ec.Response().WriteHeader(u.status)
	_, err := ec.Response().Write(u.body)
	return err
}

// encodeValue stores data with its meta: a 0 byte and the data when meta is
// empty, else a 1 byte, the meta JSON's length (4 bytes) and JSON, then the
// data.
func encodeValue(data []byte, meta render.Meta) []byte {
	if len(meta.Degraded) == 0 && len(meta.Stale) == 0 {
		return append([]byte{0}, data...)
	}
	mj, _ := json.Marshal(storedMeta{meta.Degraded, meta.Stale})
	b := make([]byte, 5, 5+len(mj)+len(data))
	b[0] = 1
	binary.BigEndian.PutUint32(b[1:], uint32(len(mj)))
	b = append(b, mj...)
	return append(b, data...)
}

type storedMeta struct {
	Degraded []string `json:"d,omitempty"`
	Stale    []string `json:"s,omitempty"`
}

func decodeValue(v []byte) ([]byte, render.Meta) {
	if len(v) == 0 {
		return nil, render.Meta{}
	}
	if v[0] == 0 || len(v) < 5 {
		return v[1:], render.Meta{}
	}
	n := int(binary.BigEndian.Uint32(v[1:]))
	if 5+n > len(v) {
		return nil, render.Meta{}
	}
	var m storedMeta
	_ = json.Unmarshal(v[5:5+n], &m)
	return v[5+n:], render.Meta{Degraded: m.Degraded, Stale: m.Stale}
}

// adminPurge serves POST /admin/cache/purge: a bearer token from
// admin.token (environment only) is required, and without one configured
// every call is refused. The target comes from the JSON body
// {"target":"/api/video/42"} or the query (?target=...).
func (c *Cache) adminPurge(ec echo.Context) error {
	want := c.rt.Config().Admin.Token.Reveal()
	if want == "" {
		return apperr.Forbidden("admin endpoints are disabled: admin.token (WINGS_ADMIN__TOKEN) is not set")
	}
	got, ok := strings.CutPrefix(ec.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return apperr.Unauthorized("admin: a valid bearer token is required")
	}
	target := ec.QueryParam("target")
	if target == "" && ec.Request().ContentLength != 0 {
		var body struct {
			Target string `json:"target"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(ec.Response(), ec.Request().Body, 4096))
		if err := dec.Decode(&body); err != nil {
			return apperr.BadParam("body: want JSON {\"target\":\"/api/video/42\"}")
		}
		target = body.Target
	}
	res, err := c.Purge(ec.Request().Context(), target)
	if err != nil {
		return err
	}
	c.rt.Logger().WithFields(map[string]any{"target": target, "l1": res.L1, "redis": res.Redis}).Info("cache: purged")
	return wings.JSON(ec, res)
}

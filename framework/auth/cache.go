package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/wings-bff/wings/framework/recovery"
)

// CacheOptions configure Cached and CachedPermission.
type CacheOptions struct {
	// TTL keeps positive answers; NegativeTTL (shorter) keeps rejections.
	// Errors other than a rejection are never cached.
	TTL, NegativeTTL time.Duration
	// Size bounds the number of entries.
	Size int
	// Timeout bounds the one shared call made for concurrent askers; it
	// runs detached from any single caller's cancellation.
	Timeout time.Duration
	// ExpirySkew: a session ending within it of now is not cached.
	ExpirySkew time.Duration
	Now        func() time.Time
	// Panics reports a provider's panic, which the waiting callers get as
	// an internal error; nil only turns it into that error.
	Panics *recovery.Reporter
}

// ttlCache is a bounded map with per-entry expiry and one in-flight load
// per key.
type ttlCache[V any] struct {
	opts CacheOptions
	mu   sync.Mutex
	m    map[string]cacheEntry[V]
	sf   singleflight.Group
}

type cacheEntry[V any] struct {
	v   V
	err error // a cached rejection
	exp time.Time
}

func newTTLCache[V any](o CacheOptions) *ttlCache[V] {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Size <= 0 {
		o.Size = 10000
	}
	return &ttlCache[V]{opts: o, m: map[string]cacheEntry[V]{}}
}

// get returns the cached answer for key or loads it once for all
// concurrent callers (a panic in load is their internal error: singleflight
// would re-panic it where nothing recovers it). load returns the value, its TTL (0: do not cache)
// and an error; negative reports whether the error is a cacheable
// rejection.
func (c *ttlCache[V]) get(ctx context.Context, key string, negative func(error) bool,
	load func(ctx context.Context) (V, time.Duration, error)) (V, error) {
	now := c.opts.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.v, e.err
	}
	ch := c.sf.DoChan(key, func() (any, error) {
		lctx := context.WithoutCancel(ctx)
		if c.opts.Timeout > 0 {
			var cancel context.CancelFunc
			lctx, cancel = context.WithTimeout(lctx, c.opts.Timeout)
			defer cancel()
		}
		var ttl time.Duration
		v, err := recovery.Call(func() (V, error) {
			v, t, err := load(lctx)
			ttl = t
			return v, err
		})
		c.opts.Panics.Report(ctx, "auth", err)
		switch {
		case err == nil && ttl > 0:
			c.put(key, cacheEntry[V]{v: v, exp: c.opts.Now().Add(ttl)})
		case err != nil && negative(err) && c.opts.NegativeTTL > 0:
			c.put(key, cacheEntry[V]{v: v, err: err, exp: c.opts.Now().Add(c.opts.NegativeTTL)})
		}
		return v, err
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// put stores e, first dropping expired entries, then arbitrary ones, when
// the cache is full.
func (c *ttlCache[V]) put(key string, e cacheEntry[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.opts.Size {
		now := c.opts.Now()
		for k, old := range c.m {
			if !now.Before(old.exp) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.opts.Size {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

// Cached wraps an identity provider with a bounded cache: valid sessions
// for TTL (never past User.ExpiresAt minus ExpirySkew), rejected tokens for
// NegativeTTL, one provider call per token at a time. Tokens are keyed by
// their SHA-256, so the cache never holds them in clear.
func Cached(p IdentityProvider, o CacheOptions) IdentityProvider {
	return &cachedIdentity{p: p, c: newTTLCache[*User](o)}
}

type cachedIdentity struct {
	p IdentityProvider
	c *ttlCache[*User]
}

func (ci *cachedIdentity) Authenticate(ctx context.Context, token string) (*User, error) {
	sum := sha256.Sum256([]byte(token))
	return ci.c.get(ctx, hex.EncodeToString(sum[:]), isInvalidSession, func(ctx context.Context) (*User, time.Duration, error) {
		u, err := ci.p.Authenticate(ctx, token)
		if err != nil || u == nil {
			return u, 0, err
		}
		ttl := ci.c.opts.TTL
		if !u.ExpiresAt.IsZero() {
			if left := u.ExpiresAt.Sub(ci.c.opts.Now()) - ci.c.opts.ExpirySkew; left < ttl {
				ttl = left
			}
		}
		return u, ttl, nil
	})
}

// CachedPermission wraps a permission provider with a bounded cache keyed
// by user id and resource: grants for TTL, denials for NegativeTTL.
func CachedPermission(p PermissionProvider, o CacheOptions) PermissionProvider {
	return &cachedPermission{p: p, c: newTTLCache[bool](o)}
}

type cachedPermission struct {
	p PermissionProvider
	c *ttlCache[bool]
}

// errDenied lets the cache keep a denial for the negative TTL.
var errDenied = errors.New("denied")

func (cp *cachedPermission) Allowed(ctx context.Context, u *User, resource string) (bool, error) {
	ok, err := cp.c.get(ctx, u.ID+"\x00"+resource, func(err error) bool { return err == errDenied },
		func(ctx context.Context) (bool, time.Duration, error) {
			ok, err := cp.p.Allowed(ctx, u, resource)
			if err != nil {
				return false, 0, err
			}
			if !ok {
				return false, 0, errDenied
			}
			return true, cp.c.opts.TTL, nil
		})
	if err == errDenied {
		return false, nil
	}
	return ok, err
}

func isInvalidSession(err error) bool { return errors.Is(err, ErrInvalidSession) }

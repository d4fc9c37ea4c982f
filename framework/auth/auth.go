// Package auth is login and resource permission for Wings routes.
//
// A route that declares a resource template (wings.Route.Auth, e.g.
// "bizline:{biz}") requires a session. For each request the framework
//
//  1. reads the session token ([TokenFromRequest]: Authorization: Bearer,
//     else the configured cookie),
//  2. asks the [IdentityProvider] who it belongs to (401 when there is no
//     token or the provider does not know it),
//  3. expands the template from the path parameters ([Expand]) and asks the
//     [PermissionProvider] whether that user may act on the resource (403
//     naming the resource, never any data),
//  4. puts the user id in the request context and logs
//     (logging.WithUserID) and the resource in reqctx.WithScope, so the
//     response cache keys private answers per permission scope.
//
// # Providers
//
// Providers are chosen by config (auth.identity.provider,
// auth.permission.provider):
//
//   - sso_http / perm_http call the company's SSO and permission HTTP APIs,
//     signing each call (see [Sign] for the scheme), with a bounded
//     in-process cache (positive answers for cache_ttl, negative ones for
//     the shorter negative_ttl) and one in-flight call per key.
//   - static answers from config users (auth.static.users); it is for local
//     development and tests and refuses to start when WINGS_ENV=prod.
//
// # How to write another provider
//
// Implement one of the two interfaces below and pass it in
// wings.Options.Identity or wings.Options.Permission; it then replaces the
// configured one. Return [ErrInvalidSession] (possibly wrapped) for a token
// that is unknown, expired or revoked: that is a 401 and is cached for
// negative_ttl when wrapped with [Cached]. Return any other error when you
// cannot answer (your backend is down): that is a 503, never cached, so a
// caller with a cached session keeps working. Honour ctx: it carries the
// request's deadline. Wrap a slow provider with [Cached] and
// [CachedPermission] to get the same bounded cache and singleflight the
// built-in ones use.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/recovery"
)

// User is an authenticated caller.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// ExpiresAt is when the session ends, when the provider knows it; the
	// cache never keeps a session past it.
	ExpiresAt time.Time `json:"-"`
}

// IdentityProvider turns a session token into a user.
type IdentityProvider interface {
	// Authenticate returns the token's user, an error wrapping
	// ErrInvalidSession when the token is unknown or expired, or another
	// error when it cannot tell now.
	Authenticate(ctx context.Context, token string) (*User, error)
}

// PermissionProvider decides whether a user may act on a resource such as
// "bizline:music".
type PermissionProvider interface {
	// Allowed reports whether user may act on resource; an error means it
	// cannot tell now.
	Allowed(ctx context.Context, user *User, resource string) (bool, error)
}

// ErrInvalidSession marks a token the identity provider rejects.
var ErrInvalidSession = errors.New("invalid or expired session")

// LoginOnly is a route resource meaning "any logged-in user": no permission
// check, and the cache scope is the user.
const LoginOnly = "@login"

// Options are the non-config inputs of New.
type Options struct {
	// Identity and Permission, when set, replace the configured providers.
	Identity   IdentityProvider
	Permission PermissionProvider
	// HTTPClient is used by the http providers; nil means a new client.
	HTTPClient *http.Client
	Log        *logrus.Logger
	// Panics reports panics of the providers' cached calls.
	Panics *recovery.Reporter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Auth is the configured pair of providers plus the request-facing
// settings.
type Auth struct {
	identity   IdentityProvider
	permission PermissionProvider
	cookie     string
	loginURL   string
	jsonp      map[string]bool
}

// New builds the providers cfg names. env is WINGS_ENV: static providers
// refuse "prod".
func New(cfg config.Auth, env string, opts Options) (*Auth, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	a := &Auth{cookie: cfg.Identity.Cookie, loginURL: cfg.LoginURL, jsonp: map[string]bool{}}
	for _, o := range cfg.JSONPRefererAllowlist {
		a.jsonp[normalizeOrigin(o)] = true
	}
	a.identity, a.permission = opts.Identity, opts.Permission
	if a.identity == nil {
		switch cfg.Identity.Provider {
		case "static":
			if env == "prod" {
				return nil, errors.New("auth.identity.provider: static is not allowed when WINGS_ENV=prod")
			}
			a.identity = NewStaticIdentity(cfg.Static)
		case "sso_http":
			sc, err := newSignedClient("sso", cfg.Identity.SSOURL, cfg, opts)
			if err != nil {
				return nil, fmt.Errorf("auth.identity.sso_url: %w", err)
			}
			a.identity = Cached(&SSOIdentity{c: sc}, CacheOptions{
				TTL: cfg.Identity.CacheTTL, NegativeTTL: cfg.Identity.NegativeTTL, Size: cfg.Identity.CacheSize,
				Timeout: cfg.Identity.Timeout, ExpirySkew: cfg.ClockSkew, Now: opts.Now, Panics: opts.Panics,
			})
		default:
			return nil, fmt.Errorf("auth.identity.provider: unknown provider %q", cfg.Identity.Provider)
		}
	}
	if a.permission == nil {
		switch cfg.Permission.Provider {
		case "static":
			if env == "prod" {
				return nil, errors.New("auth.permission.provider: static is not allowed when WINGS_ENV=prod")
			}
			a.permission = NewStaticPermission(cfg.Static)
		case "perm_http":
			sc, err := newSignedClient("permission", cfg.Permission.PermURL, cfg, opts)
			if err != nil {
				return nil, fmt.Errorf("auth.permission.perm_url: %w", err)
			}
			a.permission = CachedPermission(&HTTPPermission{c: sc}, CacheOptions{
				TTL: cfg.Permission.CacheTTL, NegativeTTL: cfg.Permission.NegativeTTL, Size: cfg.Permission.CacheSize,
				Timeout: cfg.Permission.Timeout, Now: opts.Now, Panics: opts.Panics,
			})
		default:
			return nil, fmt.Errorf("auth.permission.provider: unknown provider %q", cfg.Permission.Provider)
		}
	}
	return a, nil
}

// LoginURL returns the configured SSO login page, or "".
func (a *Auth) LoginURL() string { return a.loginURL }

// Cookie returns the name of the session cookie, or "".
func (a *Auth) Cookie() string { return a.cookie }

// Identify returns the caller of r. Its errors are typed: unauthorized (no,
// malformed or rejected token), unavailable (the provider cannot answer) or
// whatever typed error the provider returned.
func (a *Auth) Identify(ctx context.Context, r *http.Request) (*User, error) {
	token, err := TokenFromRequest(r, a.cookie)
	if errors.Is(err, ErrNoToken) {
		return nil, apperr.Unauthorized("login required: no session token (Authorization: Bearer or cookie " + a.cookieName() + ")")
	}
	if err != nil {
		return nil, apperr.Unauthorized("login required: malformed session token")
	}
	return a.Session(ctx, token)
}

// Session returns the user of a session token (from the SSO login
// redirect, before it becomes the session cookie), with Identify's typed
// errors.
func (a *Auth) Session(ctx context.Context, token string) (*User, error) {
	if checkToken(token) != nil {
		return nil, apperr.Unauthorized("login required: malformed session token")
	}
	u, err := a.identity.Authenticate(ctx, token)
	switch {
	case err == nil && (u == nil || u.ID == ""):
		return nil, apperr.Wrap(apperr.KindInternal, errors.New("identity provider returned no user"), "internal error")
	case err == nil:
		return u, nil
	case errors.Is(err, ErrInvalidSession):
		return nil, apperr.Wrap(apperr.KindUnauthorized, err, "login required: session invalid or expired")
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return nil, err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, ctxErr // the request's own deadline or the client's disconnect
	}
	return nil, apperr.Wrap(apperr.KindUnavailable, err, "login service unavailable: cannot validate the session now, try again")
}

// Authorize returns nil when u may act on resource, a forbidden error
// naming the resource when not, and an unavailable error when the
// permission provider cannot answer.
func (a *Auth) Authorize(ctx context.Context, u *User, resource string) error {
	if resource == LoginOnly {
		return nil
	}
	ok, err := a.permission.Allowed(ctx, u, resource)
	if err != nil {
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return apperr.Wrap(apperr.KindUnavailable, err, "permission service unavailable: cannot check "+resource+" now, try again")
	}
	if !ok {
		return apperr.Forbidden("forbidden: no permission for " + resource)
	}
	return nil
}

// Scope is the cache scope of an answer authorized for resource: the
// resource itself, or the user for login-only routes.
func Scope(u *User, resource string) string {
	if resource == LoginOnly {
		return "user:" + u.ID
	}
	return resource
}

func (a *Auth) cookieName() string {
	if a.cookie == "" {
		return "(none configured)"
	}
	return a.cookie
}

package config

import (
	"net/url"
	"sort"
	"strings"
	"time"
)

// Auth configures login (the identity provider) and resource permission
// (the permission provider) for routes that declare a resource. See
// framework/auth for the providers and the request-signing scheme.
type Auth struct {
	Identity   AuthIdentity   `mapstructure:"identity"`
	Permission AuthPermission `mapstructure:"permission"`
	// AppKey identifies this service to the SSO and permission APIs.
	AppKey string `mapstructure:"app_key"`
	// AppSecret signs every call to them; only from WINGS_AUTH__APP_SECRET.
	AppSecret Secret `mapstructure:"app_secret"`
	// ClockSkew is the timestamp window the signing scheme tolerates; a
	// session that ends within it is not cached.
	ClockSkew time.Duration `mapstructure:"clock_skew"`
	// LoginURL is the SSO login page sent to browsers with a 401.
	LoginURL string `mapstructure:"login_url"`
	// JSONPRefererAllowlist lists the origins (scheme://host[:port]) whose
	// pages may ask a login-required route for JSONP.
	JSONPRefererAllowlist []string `mapstructure:"jsonp_referer_allowlist"`
	// Static holds the users of the static providers, keyed by user id.
	Static AuthStatic `mapstructure:"static"`
	// AllowStaticIdentity lets the static providers run when
	// WINGS_ENV=stage (a staging stack without the company SSO); they are
	// refused there otherwise, and always when WINGS_ENV=prod.
	AllowStaticIdentity bool `mapstructure:"allow_static_identity"`
}

// AuthIdentity chooses and configures the identity provider.
type AuthIdentity struct {
	// Provider is sso_http or static.
	Provider string `mapstructure:"provider"`
	// SSOURL is the base URL of the SSO API (sso_http).
	SSOURL string `mapstructure:"sso_url"`
	// Cookie names the cookie carrying the session token; the
	// Authorization: Bearer header is always accepted too.
	Cookie string `mapstructure:"cookie"`
	// Timeout bounds one call to the SSO.
	Timeout time.Duration `mapstructure:"timeout"`
	// CacheTTL is how long a session answer is cached in process.
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// NegativeTTL is how long a refusal is cached, short so a fixed session is seen soon.
	NegativeTTL time.Duration `mapstructure:"negative_ttl"`
	// CacheSize bounds the in-process cache's entries.
	CacheSize int `mapstructure:"cache_size"`
}

// AuthPermission chooses and configures the permission provider.
type AuthPermission struct {
	// Provider is perm_http or static.
	Provider string `mapstructure:"provider"`
	// PermURL is the base URL of the permission API (perm_http).
	PermURL string `mapstructure:"perm_url"`
	// Timeout bounds one call to the permission API.
	Timeout time.Duration `mapstructure:"timeout"`
	// CacheTTL is how long a permission answer is cached in process.
	CacheTTL time.Duration `mapstructure:"cache_ttl"`
	// NegativeTTL is how long a refusal is cached, short so a fixed grant is seen soon.
	NegativeTTL time.Duration `mapstructure:"negative_ttl"`
	// CacheSize bounds the in-process cache's entries.
	CacheSize int `mapstructure:"cache_size"`
}

// AuthStatic lists the users of the static providers (local development
// and tests only).
type AuthStatic struct {
	Users map[string]AuthStaticUser `mapstructure:"users"`
}

// AuthStaticUser is one static user: the bearer token that logs them in and
// the resources they may see ("bizline:video", or "bizline:*" for all).
type AuthStaticUser struct {
	// Token is the bearer token (or session cookie value) that logs the
	// user in.
	Token string `mapstructure:"token"`
	// Name is the user's display name.
	Name string `mapstructure:"name"`
	// Grants are the resources the user may see: "bizline:video", or
	// "bizline:*" for all.
	Grants []string `mapstructure:"grants"`
}

// validateAuth reports auth.* problems through bad, each naming its key.
func (c *Config) validateAuth(bad func(key, format string, args ...any)) {
	a := c.Auth
	needSecret := false
	switch a.Identity.Provider {
	case "static":
		c.validateStatic(bad, "auth.identity.provider")
	case "sso_http":
		needSecret = true
		c.validateServiceURL(bad, "auth.identity.sso_url", a.Identity.SSOURL)
		validateAuthCache(bad, "auth.identity", a.Identity.Timeout, a.Identity.CacheTTL, a.Identity.NegativeTTL, a.Identity.CacheSize)
	default:
		bad("auth.identity.provider", "must be sso_http or static, got %q", a.Identity.Provider)
	}
	switch a.Permission.Provider {
	case "static":
		c.validateStatic(bad, "auth.permission.provider")
	case "perm_http":
		needSecret = true
		c.validateServiceURL(bad, "auth.permission.perm_url", a.Permission.PermURL)
		validateAuthCache(bad, "auth.permission", a.Permission.Timeout, a.Permission.CacheTTL, a.Permission.NegativeTTL, a.Permission.CacheSize)
	default:
		bad("auth.permission.provider", "must be perm_http or static, got %q", a.Permission.Provider)
	}
	if needSecret {
		if a.AppKey == "" {
			bad("auth.app_key", "must be set when an http provider is used")
		}
		if a.AppSecret == "" {
			bad("auth.app_secret", "must be set from WINGS_AUTH__APP_SECRET when an http provider is used")
		}
		if a.ClockSkew <= 0 {
			bad("auth.clock_skew", "must be > 0")
		}
	}
	if a.Identity.Cookie != "" && strings.ContainsAny(a.Identity.Cookie, " \t\r\n;,=") {
		bad("auth.identity.cookie", "must be a cookie name, got %q", a.Identity.Cookie)
	}
	if a.LoginURL != "" {
		c.validateServiceURL(bad, "auth.login_url", a.LoginURL)
		if a.Identity.Cookie == "" {
			bad("auth.identity.cookie", "must be set when auth.login_url is set: the browser login keeps the session in it")
		}
	}
	if a.Identity.Provider == "static" && len(a.Static.Users) > 0 && !c.EnvNamed && !loopbackAddr(c.Server.Addr) {
		bad("server.addr", "%s is not a loopback address and WINGS_ENV is unset: the static users (demo tokens) of the default local environment are only served on loopback; set WINGS_ENV to name the environment", c.Server.Addr)
	}
	for i, o := range a.JSONPRefererAllowlist {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			bad("auth.jsonp_referer_allowlist", "entry %d must be an origin like https://dash.example.com, got %q", i, o)
		}
	}
	if c.Server.CORS.AllowCredentials {
		for _, o := range c.Server.CORS.AllowOrigins {
			if o == "*" || strings.Contains(o, "*") {
				bad("server.cors.allow_origins", "%q cannot be used with allow_credentials: list each origin", o)
			}
		}
	}
	tokens := map[string]string{}
	ids := make([]string, 0, len(a.Static.Users))
	for id := range a.Static.Users {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		u := a.Static.Users[id]
		key := "auth.static.users." + id
		if u.Token == "" {
			bad(key+".token", "must be set")
		} else if other, dup := tokens[u.Token]; dup {
			bad(key+".token", "is also the token of %s", other)
		} else {
			tokens[u.Token] = id
		}
		for _, g := range u.Grants {
			if g == "" || strings.ContainsAny(g, " \t\r\n{}") || (strings.Contains(g, "*") && !strings.HasSuffix(g, "*")) || strings.Count(g, "*") > 1 {
				bad(key+".grants", "%q is not a resource or a resource prefix ending in *", g)
			}
		}
	}
}

// validateStatic refuses a static provider (users and tokens from config)
// in prod, and in stage unless auth.allow_static_identity is set.
func (c *Config) validateStatic(bad func(key, format string, args ...any), key string) {
	switch {
	case c.Env == "prod":
		bad(key, "static is for local development and tests; not allowed when WINGS_ENV=prod")
	case c.Env == "stage" && !c.Auth.AllowStaticIdentity:
		bad(key, "static is for local development and tests; not allowed when WINGS_ENV=stage unless auth.allow_static_identity is true")
	}
}

// validateServiceURL checks the URL of an auth service: http(s), and https
// outside local and test, where tokens and signed calls would otherwise
// cross the network in clear.
func (c *Config) validateServiceURL(bad func(key, format string, args ...any), key, s string) {
	if c.Env == "local" || c.Env == "test" {
		validateHTTPURL(bad, key, s)
		return
	}
	if u, err := url.Parse(s); err != nil || u.Scheme != "https" || u.Host == "" {
		bad(key, "must be an https URL when WINGS_ENV=%s, got %q", c.Env, s)
	}
}

func validateHTTPURL(bad func(key, format string, args ...any), key, s string) {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key, "must be an http(s) URL, got %q", s)
	}
}

func validateAuthCache(bad func(key, format string, args ...any), prefix string, timeout, ttl, neg time.Duration, size int) {
	if timeout <= 0 {
		bad(prefix+".timeout", "must be > 0")
	}
	if ttl <= 0 {
		bad(prefix+".cache_ttl", "must be > 0")
	}
	if neg <= 0 || neg > ttl {
		bad(prefix+".negative_ttl", "must be > 0 and <= cache_ttl")
	}
	if size <= 0 {
		bad(prefix+".cache_size", "must be > 0")
	}
}

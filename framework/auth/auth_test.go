package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sirupsen/logrus"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/auth/mocksso"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/recovery"
)

const secret = "s3cret"

func httpCfg(url string) config.Auth {
	c := config.Auth{AppKey: "wings-video-bff", AppSecret: secret, ClockSkew: time.Minute}
	c.Identity = config.AuthIdentity{Provider: "sso_http", SSOURL: url, Cookie: "wings_session", Timeout: time.Second, CacheTTL: time.Minute, NegativeTTL: 5 * time.Second, CacheSize: 100}
	c.Permission = config.AuthPermission{Provider: "perm_http", PermURL: url, Timeout: time.Second, CacheTTL: time.Minute, NegativeTTL: 5 * time.Second, CacheSize: 100}
	return c
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/dash/video/realtime", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1700000000, 0)
	r := httptest.NewRequest(http.MethodPost, "http://x/sso/v1/session", nil)
	auth.SignRequest(r, "k", []byte(secret), now)
	if err := auth.Verify(r, []byte(secret), now, time.Minute); err != nil {
		t.Fatalf("got %v; want nil", err)
	}
	want := auth.Sign([]byte(secret), "POST", "/sso/v1/session", "1700000000", r.Header.Get(auth.HeaderNonce))
	if got := r.Header.Get(auth.HeaderSignature); got != want {
		t.Fatalf("signature %s; want %s", got, want)
	}
	if err := auth.Verify(r, []byte("other"), now, time.Minute); !errors.Is(err, auth.ErrBadSignature) {
		t.Fatalf("wrong secret: got %v; want bad signature", err)
	}
	if err := auth.Verify(r, []byte(secret), now.Add(2*time.Minute), time.Minute); !errors.Is(err, auth.ErrStaleTimestamp) {
		t.Fatalf("late: got %v; want stale", err)
	}
	r.Header.Set(auth.HeaderTimestamp, "1700000001") // tampered: signature no longer matches
	if err := auth.Verify(r, []byte(secret), now, time.Minute); !errors.Is(err, auth.ErrBadSignature) {
		t.Fatalf("tampered timestamp: got %v; want bad signature", err)
	}
}

func TestHTTPProvidersAgainstMockSSO(t *testing.T) {
	fake := mocksso.New(mocksso.Options{AppKey: "wings-video-bff", Secret: []byte(secret), MaxSkew: time.Minute})
	ts := httptest.NewServer(fake.Handler())
	defer ts.Close()
	a, err := auth.New(httpCfg(ts.URL), "test", auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, err := a.Identify(ctx, bearer("demo-music"))
	if err != nil || u.ID != "u-music" {
		t.Fatalf("got %v, %v; want u-music", u, err)
	}
	if err := a.Authorize(ctx, u, "bizline:music"); err != nil {
		t.Fatalf("music: got %v; want allowed", err)
	}
	if err := a.Authorize(ctx, u, "bizline:video"); apperr.KindOf(err) != apperr.KindForbidden || !strings.Contains(err.Error(), "bizline:video") {
		t.Fatalf("video: got %v; want forbidden naming bizline:video", err)
	}
	for _, tok := range []string{"demo-expired", "nope"} {
		if _, err := a.Identify(ctx, bearer(tok)); apperr.KindOf(err) != apperr.KindUnauthorized {
			t.Fatalf("%s: got %v; want unauthorized", tok, err)
		}
	}
	// Wrong secret: the SSO refuses our signature: 502, not the user's fault.
	bad := httpCfg(ts.URL)
	bad.AppSecret = "wrong"
	b, _ := auth.New(bad, "test", auth.Options{})
	if _, err := b.Identify(ctx, bearer("demo-music")); apperr.KindOf(err) != apperr.KindUpstream {
		t.Fatalf("bad signature: got %v; want upstream_error", err)
	}
	// Our clock 10 minutes off: stale timestamp, also 502.
	skewed, _ := auth.New(httpCfg(ts.URL), "test", auth.Options{Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
	if _, err := skewed.Identify(ctx, bearer("demo-music")); apperr.KindOf(err) != apperr.KindUpstream {
		t.Fatalf("stale timestamp: got %v; want upstream_error", err)
	}
	// SSO down: a cached session keeps working, an uncached one is 503.
	ts.Close()
	if _, err := a.Identify(ctx, bearer("demo-music")); err != nil {
		t.Fatalf("cached session with SSO down: got %v; want ok", err)
	}
	if _, err := a.Identify(ctx, bearer("demo-video")); apperr.KindOf(err) != apperr.KindUnavailable {
		t.Fatalf("uncached session with SSO down: got %v; want unavailable", err)
	}
}

type countingIdentity struct {
	calls atomic.Int64
	gate  chan struct{}
}

func (c *countingIdentity) Authenticate(_ context.Context, token string) (*auth.User, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if token == "good" {
		return &auth.User{ID: "u1"}, nil
	}
	if token == "down" {
		return nil, errors.New("backend down")
	}
	return nil, auth.ErrInvalidSession
}

func TestCachedTTLNegativeAndSingleflight(t *testing.T) {
	now := time.Unix(1000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	inner := &countingIdentity{}
	p := auth.Cached(inner, auth.CacheOptions{TTL: 10 * time.Second, NegativeTTL: 2 * time.Second, Size: 10, Now: clock})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := p.Authenticate(ctx, "good"); err != nil {
			t.Fatal(err)
		}
		_, _ = p.Authenticate(ctx, "bad")
		_, _ = p.Authenticate(ctx, "down")
	}
	if got := inner.calls.Load(); got != 5 { // good 1, bad 1, down 3 (errors are never cached)
		t.Fatalf("calls %d; want 5", got)
	}
	advance(3 * time.Second) // negative entry expired, positive not
	_, _ = p.Authenticate(ctx, "good")
	_, _ = p.Authenticate(ctx, "bad")
	if got := inner.calls.Load(); got != 6 {
		t.Fatalf("calls %d; want 6", got)
	}
	advance(8 * time.Second)
	_, _ = p.Authenticate(ctx, "good")
	if got := inner.calls.Load(); got != 7 {
		t.Fatalf("calls %d; want 7", got)
	}

	gated := &countingIdentity{gate: make(chan struct{})}
	sp := auth.Cached(gated, auth.CacheOptions{TTL: time.Minute, NegativeTTL: time.Second, Size: 10})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = sp.Authenticate(ctx, "good") }()
	}
	for gated.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(gated.gate)
	wg.Wait()
	if got := gated.calls.Load(); got != 1 {
		t.Fatalf("concurrent calls %d; want 1 (singleflight)", got)
	}
}

func TestCacheBounded(t *testing.T) {
	inner := &countingIdentity{}
	p := auth.Cached(inner, auth.CacheOptions{TTL: time.Minute, NegativeTTL: time.Minute, Size: 5})
	for i := 0; i < 50; i++ {
		_, _ = p.Authenticate(context.Background(), "bad"+strings.Repeat("x", i))
	}
	// All 50 distinct tokens were rejected by the provider; re-asking the
	// first ones must call it again because the bound evicted them.
	before := inner.calls.Load()
	for i := 0; i < 10; i++ {
		_, _ = p.Authenticate(context.Background(), "bad"+strings.Repeat("x", i))
	}
	if inner.calls.Load()-before < 5 {
		t.Fatalf("cache kept more than its bound")
	}
}

func TestStaticProviders(t *testing.T) {
	cfg := config.Auth{Identity: config.AuthIdentity{Provider: "static"}, Permission: config.AuthPermission{Provider: "static"},
		Static: config.AuthStatic{Users: map[string]config.AuthStaticUser{
			"u-video": {Token: "demo-video", Grants: []string{"bizline:video"}},
			"u-admin": {Token: "demo-admin", Grants: []string{"bizline:*"}},
		}}}
	if _, err := auth.New(cfg, "prod", auth.Options{}); err == nil {
		t.Fatal("static in prod: got nil; want an error")
	}
	a, err := auth.New(cfg, "local", auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, _ := a.Identify(ctx, bearer("demo-video"))
	ad, _ := a.Identify(ctx, bearer("demo-admin"))
	cases := []struct {
		u        *auth.User
		resource string
		ok       bool
	}{
		{v, "bizline:video", true}, {v, "bizline:music", false}, {v, "bizline:videos", false},
		{ad, "bizline:music", true}, {ad, "other:music", false},
	}
	for _, tc := range cases {
		err := a.Authorize(ctx, tc.u, tc.resource)
		if (err == nil) != tc.ok {
			t.Errorf("%s on %s: got %v; want ok=%v", tc.u.ID, tc.resource, err, tc.ok)
		}
	}
	if _, err := a.Identify(ctx, httptest.NewRequest(http.MethodGet, "/", nil)); apperr.KindOf(err) != apperr.KindUnauthorized {
		t.Fatalf("no token: got %v; want unauthorized", err)
	}
}

func TestTokenFromRequest(t *testing.T) {
	cases := []struct {
		name, authz, cookie, want string
		err                       error
	}{
		{"bearer", "Bearer abc", "", "abc", nil},
		{"case-insensitive", "bEARER  abc ", "", "abc", nil},
		{"cookie", "", "tok123", "tok123", nil},
		{"bearer wins", "Bearer a", "b", "a", nil},
		{"basic falls back", "Basic Zm9v", "c", "c", nil},
		{"none", "", "", "", auth.ErrNoToken},
		{"empty bearer", "Bearer ", "", "", auth.ErrMalformedToken},
		{"bad char", "Bearer a\"b", "", "", auth.ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "wings_session", Value: tc.cookie})
			}
			got, err := auth.TokenFromRequest(r, "wings_session")
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	params := map[string]string{"biz": "music", "bad": "*", "colon": "a:b"}
	get := func(n string) string { return params[n] }
	if got, err := auth.Expand("bizline:{biz}", get); got != "bizline:music" || err != nil {
		t.Fatalf("got %q, %v; want bizline:music", got, err)
	}
	for _, tmpl := range []string{"bizline:{bad}", "bizline:{colon}", "bizline:{missing}"} {
		var pe *auth.ParamError
		if _, err := auth.Expand(tmpl, get); !errors.As(err, &pe) {
			t.Errorf("%s: got %v; want a ParamError", tmpl, err)
		}
	}
	for _, tmpl := range []string{"", "bizline:*", "bizline:{biz", "bizline:biz}", "bizline:{}", "a {b}"} {
		if _, err := auth.ParseTemplate(tmpl); err == nil {
			t.Errorf("%q: got nil; want an error", tmpl)
		}
	}
}

func FuzzTokenFromRequest(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x", "Basic y", "Bearer", "Bearer \x00", ""} {
		f.Add(s, "c")
	}
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{authz}
		r.Header["Cookie"] = []string{"wings_session=" + cookie}
		tok, err := auth.TokenFromRequest(r, "wings_session")
		if err != nil {
			if tok != "" {
				t.Fatalf("error %v with token %q", err, tok)
			}
			return
		}
		if tok == "" || len(tok) > auth.MaxTokenLen || strings.ContainsAny(tok, " \t\r\n\";,\\") {
			t.Fatalf("accepted bad token %q", tok)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"bizline:{biz}", "{a}:{b}", "x{", "}", "@login", "a*{b}"} {
		f.Add(s, "music")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		got, err := auth.Expand(tmpl, func(string) string { return value })
		if err != nil {
			return
		}
		if tmpl != auth.LoginOnly && strings.Contains(got, "*") {
			t.Fatalf("%q with %q expanded to a wildcard %q", tmpl, value, got)
		}
		if strings.ContainsAny(value, "*:{} ") && strings.Contains(tmpl, "{") {
			t.Fatalf("%q accepted value %q: %q", tmpl, value, got)
		}
	})
}

type panickingProvider struct{}

func (panickingProvider) Authenticate(_ context.Context, token string) (*auth.User, error) {
	if token == "good" {
		return &auth.User{ID: "u1"}, nil
	}
	panic("provider bug")
}

func (panickingProvider) Allowed(_ context.Context, u *auth.User, resource string) (bool, error) {
	panic("provider bug")
}

// The cached providers call through singleflight, out of the Recover
// middleware's reach: a provider's panic must come back as an internal
// error (logged with its stack and counted), not kill the process.
func TestCachedProviderPanicIsInternalError(t *testing.T) {
	var logs strings.Builder
	log := logrus.New()
	log.SetOutput(&logs)
	count := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "panics_total"}, []string{"where"})
	o := auth.CacheOptions{TTL: time.Minute, NegativeTTL: time.Second, Size: 10, Panics: recovery.NewReporter(log, count)}
	id := auth.Cached(panickingProvider{}, o)
	perm := auth.CachedPermission(panickingProvider{}, o)
	ctx := context.Background()
	_, err := id.Authenticate(ctx, "boom")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindInternal {
		t.Fatalf("Authenticate: got %v; want an internal error", err)
	}
	if _, err := perm.Allowed(ctx, &auth.User{ID: "u1"}, "bizline:video"); !errors.As(err, &ae) || ae.Kind != apperr.KindInternal {
		t.Fatalf("Allowed: got %v; want an internal error", err)
	}
	if n := testutil.ToFloat64(count.WithLabelValues("auth")); n != 2 {
		t.Errorf("panics counted: %v; want 2", n)
	}
	if !strings.Contains(logs.String(), "panic recovered") || !strings.Contains(logs.String(), "auth_test.go") {
		t.Errorf("log has no panic line with its stack: %s", logs.String())
	}
	if u, err := id.Authenticate(ctx, "good"); err != nil || u.ID != "u1" {
		t.Errorf("next call: got %v %v; want u1", u, err)
	}
}

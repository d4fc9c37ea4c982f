package wings_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

func loginRuntime(t testing.TB, env string) *wings.Runtime {
	t.Helper()
	c := testConfig()
	c.Env = env
	c.Log.Level = "warn"
	c.Auth.LoginURL = "http://127.0.0.1:9091/login"
	c.Auth.Identity.Cookie = "wings_session"
	c.Auth.Static.Users = map[string]config.AuthStaticUser{"u-video": {Token: "demo-video", Name: "Video analyst"}}
	rt, err := wings.New(c, wings.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	rt.Handle(
		wings.Route{Method: http.MethodGet, Path: "/", Auth: auth.LoginOnly, Page: true, Handler: func(c echo.Context) error {
			return c.HTML(http.StatusOK, "hello "+wings.CurrentUser(c).ID)
		}},
		wings.Route{Method: http.MethodGet, Path: "/api/me", Auth: auth.LoginOnly, Handler: wings.Me},
	)
	return rt
}

func cookieOf(w interface{ Result() *http.Response }, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// The browser login: a page without a session goes to the SSO login page
// and comes back with the session cookie, which then logs the page in;
// logout clears it; API routes keep answering 401 and accepting Bearer.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	rt := loginRuntime(t, "test")

	w := do(rt, http.MethodGet, "/?biz=music")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/auth/login?next=%2F%3Fbiz%3Dmusic" {
		t.Fatalf("page without a session: %d Location %q; want 302 to /auth/login?next=...", w.Code, w.Header().Get("Location"))
	}
	if w := do(rt, http.MethodGet, "/api/me"); w.Code != http.StatusUnauthorized {
		t.Errorf("API without a session: %d; want 401, not a redirect", w.Code)
	}

	w = do(rt, http.MethodGet, "/auth/login?next=%2F%3Fbiz%3Dmusic")
	loc, _ := url.Parse(w.Header().Get("Location"))
	state := cookieOf(w, "wings_login_state")
	if w.Code != http.StatusFound || loc == nil || loc.Host != "127.0.0.1:9091" || loc.Path != "/login" || state == nil {
		t.Fatalf("login: %d Location %q state %v; want 302 to the SSO page with a state cookie", w.Code, w.Header().Get("Location"), state)
	}
	if back := loc.Query().Get("redirect"); back != "http://example.com/auth/callback?next=%2F%3Fbiz%3Dmusic" || loc.Query().Get("state") != state.Value {
		t.Fatalf("login redirect = %q state %q; want our callback and the cookie's state", back, loc.Query().Get("state"))
	}

	callback := "/auth/callback?next=%2F%3Fbiz%3Dmusic&state=" + state.Value
	stateHdr := "wings_login_state=" + state.Value
	if w := do(rt, http.MethodGet, callback+"&token=demo-video"); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "state") {
		t.Errorf("callback without the state cookie: %d %s; want 400 naming state", w.Code, w.Body)
	}
	if w := do(rt, http.MethodGet, callback+"&token=forged", "Cookie", stateHdr); w.Code != http.StatusUnauthorized || cookieOf(w, "wings_session") != nil {
		t.Errorf("callback with an unknown token: %d; want 401 and no session", w.Code)
	}
	w = do(rt, http.MethodGet, callback+"&token=demo-video", "Cookie", stateHdr)
	sess := cookieOf(w, "wings_session")
	if w.Code != http.StatusFound || w.Header().Get("Location") != "/?biz=music" || sess == nil {
		t.Fatalf("callback: %d Location %q; want 302 to the page with the session cookie", w.Code, w.Header().Get("Location"))
	}
	if sess.Value != "demo-video" || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure || sess.Path != "/" {
		t.Errorf("session cookie = %+v; want HttpOnly, SameSite=Lax, not Secure in test, Path=/", sess)
	}

	if w := do(rt, http.MethodGet, "/", "Cookie", "wings_session=demo-video"); w.Code != 200 || w.Body.String() != "hello u-video" {
		t.Errorf("page with the cookie: %d %s", w.Code, w.Body)
	}
	if w := do(rt, http.MethodGet, "/api/me", "Authorization", "Bearer demo-video"); w.Code != 200 {
		t.Errorf("API with a bearer token: %d %s", w.Code, w.Body)
	}

	w = do(rt, http.MethodPost, "/auth/logout", "Cookie", "wings_session=demo-video")
	if c := cookieOf(w, "wings_session"); w.Code != http.StatusSeeOther || c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("logout: %d cookie %+v; want 303 and the cookie deleted", w.Code, c)
	}
}

// The login never sends the browser to another site, and the session
// cookie is Secure outside local and test.
func TestLoginRedirectsStayLocal(t *testing.T) {
	t.Parallel()
	rt := loginRuntime(t, "stage")
	for _, next := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		w := do(rt, http.MethodGet, "/auth/callback?state=s&token=demo-video&next="+url.QueryEscape(next), "Cookie", "wings_login_state=s")
		if w.Code != http.StatusFound || w.Header().Get("Location") != "/" {
			t.Errorf("next=%q: %d Location %q; want 302 to /", next, w.Code, w.Header().Get("Location"))
		}
		if c := cookieOf(w, "wings_session"); c == nil || !c.Secure {
			t.Errorf("session cookie in stage = %+v; want Secure", c)
		}
	}
}

// FuzzLoginNext: whatever next the callback is given, the browser is sent
// to a path on this site, as a browser reads the Location (tabs and
// newlines dropped, a backslash read as a slash).
func FuzzLoginNext(f *testing.F) {
	for _, s := range []string{"/", "/?biz=music", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example", "/%2F%2Fevil", ""} {
		f.Add(s)
	}
	rt := loginRuntime(f, "test")
	f.Fuzz(func(t *testing.T, next string) {
		w := do(rt, http.MethodGet, "/auth/callback?state=s&token=demo-video&next="+url.QueryEscape(next), "Cookie", "wings_login_state=s")
		if w.Code != http.StatusFound {
			t.Fatalf("next %q: status %d", next, w.Code)
		}
		loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(w.Header().Get("Location"))
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
			t.Fatalf("next %q: Location %q leaves the site", next, w.Header().Get("Location"))
		}
	})
}

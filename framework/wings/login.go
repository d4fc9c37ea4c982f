package wings

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
)

// The browser login flow's endpoints, served when auth.login_url is set:
//
//	GET  /auth/login?next=/path   → 302 to the SSO login page, with a state cookie
//	GET  /auth/callback?token=&state=&next=
//	                              ← the SSO page sends the browser back here; the token is
//	                                checked with the identity provider and becomes the
//	                                session cookie (auth.identity.cookie), then 302 to next
//	POST /auth/logout             → clears the session cookie, 303 to /
//
// A route declared Page redirects a browser without a session to
// /auth/login?next=<the page>.
const (
	PathLogin    = "/auth/login"
	PathCallback = "/auth/callback"
	PathLogout   = "/auth/logout"
	// stateCookie holds the login's random state between /auth/login and
	// /auth/callback: a callback the browser did not start (login CSRF)
	// is refused.
	stateCookie = "wings_login_state"
)

// loginEnabled reports whether the browser login flow is configured.
func (rt *Runtime) loginEnabled() bool {
	return rt.auth.a.LoginURL() != "" && rt.auth.a.Cookie() != ""
}

// secureCookies: cookies are Secure outside local development and tests,
// where pages are served over plain http on loopback.
func (rt *Runtime) secureCookies() bool {
	return rt.cfg.Env != "local" && rt.cfg.Env != "test"
}

func (rt *Runtime) registerLogin(e *echo.Echo) {
	if !rt.loginEnabled() {
		return
	}
	e.GET(PathLogin, rt.login)
	e.GET(PathCallback, rt.loginCallback)
	e.POST(PathLogout, rt.logout)
}

// login sends the browser to the SSO login page, which will send it back
// to /auth/callback with a session token.
func (rt *Runtime) login(c echo.Context) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	state := hex.EncodeToString(b[:])
	c.SetCookie(&http.Cookie{Name: stateCookie, Value: state, Path: "/auth/", MaxAge: 600,
		HttpOnly: true, Secure: rt.secureCookies(), SameSite: http.SameSiteLaxMode})
	back := url.URL{Scheme: c.Scheme(), Host: c.Request().Host, Path: PathCallback,
		RawQuery: url.Values{"next": {localPath(c.QueryParam("next"))}}.Encode()}
	u, err := url.Parse(rt.auth.a.LoginURL())
	if err != nil {
		return apperr.Wrap(apperr.KindInternal, err, "internal error")
	}
	q := u.Query()
	q.Set("redirect", back.String())
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return c.Redirect(http.StatusFound, u.String())
}

// loginCallback turns the token the SSO page sent back into the session
// cookie, once the identity provider knows it.
func (rt *Runtime) loginCallback(c echo.Context) error {
	st, err := c.Cookie(stateCookie)
	state := c.QueryParam("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(st.Value), []byte(state)) != 1 {
		return apperr.BadParam("state: this login was not started here or has expired; start again at %s", PathLogin)
	}
	token := c.QueryParam("token")
	if token == "" {
		return apperr.BadParam("token: the login page sent no session token")
	}
	if _, err := rt.auth.a.Session(c.Request().Context(), token); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: stateCookie, Path: "/auth/", MaxAge: -1, HttpOnly: true, Secure: rt.secureCookies(), SameSite: http.SameSiteLaxMode})
	c.SetCookie(rt.sessionCookie(token, 0))
	return c.Redirect(http.StatusFound, localPath(c.QueryParam("next")))
}

// logout clears the session cookie.
func (rt *Runtime) logout(c echo.Context) error {
	c.SetCookie(rt.sessionCookie("", -1))
	return c.Redirect(http.StatusSeeOther, "/")
}

// sessionCookie is the session cookie holding token; maxAge -1 deletes it,
// 0 makes it last as long as the browser session.
func (rt *Runtime) sessionCookie(token string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: rt.auth.a.Cookie(), Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: rt.secureCookies(), SameSite: http.SameSiteLaxMode}
}

// localPath returns p when it is a path on this site, else "/": the login
// flow never redirects to another site. Browsers drop tabs and newlines
// from a URL and read a backslash as a slash, so "/\t/evil" would be
// "//evil": any control character or backslash is refused.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return "/"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return "/"
		}
	}
	return p
}

// pageLogin redirects a browser's GET of a page to the login flow.
func (rt *Runtime) pageLogin(c echo.Context) error {
	return c.Redirect(http.StatusFound, PathLogin+"?"+url.Values{"next": {c.Request().URL.RequestURI()}}.Encode())
}

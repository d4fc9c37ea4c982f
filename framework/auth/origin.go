package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// JSONPAllowed reports whether r may receive JSONP from a login-required
// route: its Origin (or, without one, its Referer's origin) must be in
// auth.jsonp_referer_allowlist. It also returns the origin it judged, ""
// when the request names none.
func (a *Auth) JSONPAllowed(r *http.Request) (string, bool) {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		o = r.Header.Get("Referer")
	}
	origin := normalizeOrigin(o)
	return origin, origin != "" && a.jsonp[origin]
}

// normalizeOrigin returns scheme://host[:port] of an origin or URL,
// lower-cased, or "" when s is not an absolute http(s) URL.
func normalizeOrigin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

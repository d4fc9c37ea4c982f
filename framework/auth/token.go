package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// MaxTokenLen bounds a session token.
const MaxTokenLen = 4096

// Token errors; both become a 401.
var (
	ErrNoToken        = errors.New("no session token")
	ErrMalformedToken = errors.New("malformed session token")
)

// TokenFromRequest returns the session token of r: from
// "Authorization: Bearer <token>" when present, else from the cookie named
// cookie (when cookie is not empty). A token is 1 to MaxTokenLen visible
// ASCII characters without quotes, backslashes, commas or semicolons.
func TokenFromRequest(r *http.Request, cookie string) (string, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := ParseBearer(h); ok {
			return valid(tok)
		}
		if scheme, _, _ := strings.Cut(h, " "); strings.EqualFold(scheme, "bearer") {
			return "", ErrMalformedToken
		}
		// Another scheme (Basic, ...) is not ours: fall back to the cookie.
	}
	if cookie == "" {
		return "", ErrNoToken
	}
	c, err := r.Cookie(cookie)
	if err != nil || c.Value == "" {
		return "", ErrNoToken
	}
	v := c.Value
	if strings.Contains(v, "%") {
		if u, err := url.QueryUnescape(v); err == nil {
			v = u
		}
	}
	return valid(v)
}

// valid returns t, or "" and ErrMalformedToken.
func valid(t string) (string, error) {
	if err := checkToken(t); err != nil {
		return "", err
	}
	return t, nil
}

// ParseBearer returns the token of an "Authorization: Bearer <token>"
// value; the scheme is case-insensitive and the token is trimmed.
func ParseBearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) < len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	tok := strings.TrimSpace(h[len(p):])
	return tok, tok != ""
}

func checkToken(t string) error {
	if t == "" || len(t) > MaxTokenLen {
		return ErrMalformedToken
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',' || c == ';' {
			return ErrMalformedToken
		}
	}
	return nil
}

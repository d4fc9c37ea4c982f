package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/config"
)

// The API paths, relative to auth.identity.sso_url and
// auth.permission.perm_url.
const (
	PathSession = "/sso/v1/session"
	PathCheck   = "/perm/v1/check"
)

// SessionRequest and SessionResponse are the SSO API's
// POST /sso/v1/session body and answer.
type SessionRequest struct {
	Token string `json:"token"`
}

// SessionResponse is the SSO API's answer: valid with the user and the
// session's expiry (unix seconds, 0 if unknown), or not valid with a
// reason.
type SessionResponse struct {
	Valid     bool   `json:"valid"`
	Reason    string `json:"reason,omitempty"`
	User      *User  `json:"user,omitempty"`
	ExpiresAt int64  `json:"expires_at,omitempty"`
}

// CheckRequest is the permission API's POST /perm/v1/check body.
type CheckRequest struct {
	UserID   string `json:"user_id"`
	Resource string `json:"resource"`
}

// CheckResponse is the permission API's answer.
type CheckResponse struct {
	Allowed bool `json:"allowed"`
}

// ErrorResponse is what either API answers with a 4xx, e.g.
// {"error":"bad_signature"}.
type ErrorResponse struct {
	Error string `json:"error"`
}

// signedClient POSTs signed JSON calls to one API.
type signedClient struct {
	name   string // "sso" or "permission": logs and errors
	label  string // "login service" or "permission service": client messages
	base   *url.URL
	appKey string
	secret []byte
	hc     *http.Client
	now    func() time.Time
}

func newSignedClient(name, base string, cfg config.Auth, opts Options) (*signedClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("must be an http(s) URL, got %q", base)
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("auth.app_secret is empty (set WINGS_AUTH__APP_SECRET)")
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	label := "login service"
	if name == "permission" {
		label = "permission service"
	}
	return &signedClient{name: name, label: label, base: u, appKey: cfg.AppKey, secret: []byte(cfg.AppSecret.Reveal()), hc: opts.HTTPClient, now: opts.Now}, nil
}

// post sends in to path and decodes a 2xx answer into out. Failures are
// typed: the service refusing our signature or request is an upstream error
// (502: our configuration or clock is wrong, not the user's session);
// transport errors, timeouts and 5xx are unavailable (503).
func (s *signedClient) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	u := *s.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	SignRequest(req, s.appKey, s.secret, s.now())
	resp, err := s.hc.Do(req)
	if err != nil {
		return apperr.Wrap(apperr.KindUnavailable, fmt.Errorf("%s api: %w", s.name, err),
			s.label+" unavailable: cannot validate the request now, try again")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return apperr.Wrap(apperr.KindUnavailable, fmt.Errorf("%s api: read: %w", s.name, err),
			s.label+" unavailable: cannot validate the request now, try again")
	}
	switch {
	case resp.StatusCode >= 500:
		return apperr.Wrap(apperr.KindUnavailable, fmt.Errorf("%s api: status %d", s.name, resp.StatusCode),
			s.label+" unavailable: cannot validate the request now, try again")
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		var er ErrorResponse
		_ = json.Unmarshal(b, &er)
		return &apperr.Error{Kind: apperr.KindUpstream, Upstream: s.name,
			Message: s.label + " rejected this server's signed request",
			Err:     fmt.Errorf("%s api: status %d: %q (check auth.app_key, WINGS_AUTH__APP_SECRET and the clock)", s.name, resp.StatusCode, er.Error)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return &apperr.Error{Kind: apperr.KindUpstream, Upstream: s.name, Message: s.label + " failed",
			Err: fmt.Errorf("%s api: status %d", s.name, resp.StatusCode)}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &apperr.Error{Kind: apperr.KindUpstream, Upstream: s.name, Message: s.label + " failed",
			Err: fmt.Errorf("%s api: bad json: %w", s.name, err)}
	}
	return nil
}

// SSOIdentity is the sso_http identity provider (uncached; New wraps it
// with Cached).
type SSOIdentity struct{ c *signedClient }

// Authenticate asks the SSO API about token.
func (p *SSOIdentity) Authenticate(ctx context.Context, token string) (*User, error) {
	var out SessionResponse
	if err := p.c.post(ctx, PathSession, SessionRequest{Token: token}, &out); err != nil {
		return nil, err
	}
	if !out.Valid {
		reason := out.Reason
		if reason == "" {
			reason = "rejected"
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidSession, reason)
	}
	if out.User == nil || out.User.ID == "" {
		return nil, &apperr.Error{Kind: apperr.KindUpstream, Upstream: "sso", Message: "sso service failed",
			Err: errors.New("sso api: valid session without a user id")}
	}
	u := *out.User
	if out.ExpiresAt > 0 {
		u.ExpiresAt = time.Unix(out.ExpiresAt, 0)
		if !u.ExpiresAt.After(p.c.now()) {
			return nil, fmt.Errorf("%w: expired", ErrInvalidSession)
		}
	}
	return &u, nil
}

// HTTPPermission is the perm_http permission provider (uncached; New wraps
// it with CachedPermission).
type HTTPPermission struct{ c *signedClient }

// Allowed asks the permission API.
func (p *HTTPPermission) Allowed(ctx context.Context, u *User, resource string) (bool, error) {
	var out CheckResponse
	if err := p.c.post(ctx, PathCheck, CheckRequest{UserID: u.ID, Resource: resource}, &out); err != nil {
		return false, err
	}
	return out.Allowed, nil
}

// Package mocksso is a fake of the company's SSO and permission APIs for
// `wings mock-sso`, `make run` and tests. It checks every call the way the
// real services do: known app key, HMAC-SHA256 signature (auth.Sign), a
// timestamp within the allowed skew and a nonce never seen before.
package mocksso

import (
	"encoding/json"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wings-bff/wings/framework/auth"
)

// User is one fixed user of the fake.
type User struct {
	ID, Name string
	Grants   []string
	// Expired sessions answer {"valid":false,"reason":"expired"}.
	Expired bool
}

// Users are the fake's fixed sessions, by token: the same demo tokens as
// the static provider of the local config, plus an expired one.
func Users() map[string]User {
	return map[string]User{
		"demo-video":   {ID: "u-video", Name: "Video analyst", Grants: []string{"bizline:video"}},
		"demo-music":   {ID: "u-music", Name: "Music analyst", Grants: []string{"bizline:music"}},
		"demo-admin":   {ID: "u-admin", Name: "Administrator", Grants: []string{"bizline:*"}},
		"demo-expired": {ID: "u-expired", Name: "Former analyst", Grants: []string{"bizline:video"}, Expired: true},
	}
}

// Options configure the fake.
type Options struct {
	AppKey string
	Secret []byte
	// MaxSkew is the accepted timestamp drift.
	MaxSkew time.Duration
	// ClockOffset shifts the fake's clock, to provoke stale timestamps.
	ClockOffset time.Duration
	// SessionTTL is the expiry the fake reports for valid sessions.
	SessionTTL time.Duration
	// Users by token; nil means Users().
	Users map[string]User
}

// Server is the fake.
type Server struct {
	opts   Options
	byID   map[string]User
	mu     sync.Mutex
	nonces map[string]time.Time

	sessions, checks, rejected atomic.Int64
}

// New returns the fake.
func New(o Options) *Server {
	if o.Users == nil {
		o.Users = Users()
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 5 * time.Minute
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = time.Hour
	}
	s := &Server{opts: o, byID: map[string]User{}, nonces: map[string]time.Time{}}
	for _, u := range o.Users {
		s.byID[u.ID] = u
	}
	return s
}

// Handler serves POST /sso/v1/session, POST /perm/v1/check, the login
// page (GET and POST /login) and GET /_mock/stats
// ({"session":n,"check":n,"rejected":n}).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+auth.PathSession, s.session)
	mux.HandleFunc("POST "+auth.PathCheck, s.check)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.HandleFunc("GET /_mock/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int64{"session": s.sessions.Load(), "check": s.checks.Load(), "rejected": s.rejected.Load()})
	})
	return mux
}

func (s *Server) now() time.Time { return time.Now().Add(s.opts.ClockOffset) }

// verify checks the signing headers; on failure it answers 401 with
// {"error":"bad_signature"|"stale_timestamp"|"bad_nonce"|"unknown_app_key"}.
func (s *Server) verify(w http.ResponseWriter, r *http.Request) bool {
	var code string
	err := auth.Verify(r, s.opts.Secret, s.now(), s.opts.MaxSkew)
	switch {
	case r.Header.Get(auth.HeaderAppKey) != s.opts.AppKey:
		code = "unknown_app_key"
	case errors.Is(err, auth.ErrBadSignature):
		code = "bad_signature"
	case errors.Is(err, auth.ErrStaleTimestamp):
		code = "stale_timestamp"
	case errors.Is(err, auth.ErrBadNonce):
		code = "bad_nonce"
	case err != nil:
		code = "bad_signature"
	case !s.freshNonce(r.Header.Get(auth.HeaderNonce)):
		code = "bad_nonce"
	default:
		return true
	}
	s.rejected.Add(1)
	writeJSON(w, http.StatusUnauthorized, auth.ErrorResponse{Error: code})
	return false
}

// freshNonce records n and reports whether it was unseen; entries older
// than twice the skew are forgotten (their timestamps are stale anyway).
func (s *Server) freshNonce(n string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.nonces) > 100000 {
		for k, t := range s.nonces {
			if now.Sub(t) > 2*s.opts.MaxSkew {
				delete(s.nonces, k)
			}
		}
	}
	if _, seen := s.nonces[n]; seen {
		return false
	}
	s.nonces[n] = now
	return true
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	if !s.verify(w, r) {
		return
	}
	s.sessions.Add(1)
	var in auth.SessionRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, auth.ErrorResponse{Error: "bad_body"})
		return
	}
	u, ok := s.opts.Users[in.Token]
	switch {
	case !ok:
		writeJSON(w, http.StatusOK, auth.SessionResponse{Valid: false, Reason: "unknown"})
	case u.Expired:
		writeJSON(w, http.StatusOK, auth.SessionResponse{Valid: false, Reason: "expired"})
	default:
		writeJSON(w, http.StatusOK, auth.SessionResponse{Valid: true, User: &auth.User{ID: u.ID, Name: u.Name},
			ExpiresAt: time.Now().Add(s.opts.SessionTTL).Unix()})
	}
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	if !s.verify(w, r) {
		return
	}
	s.checks.Add(1)
	var in auth.CheckRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, auth.ErrorResponse{Error: "bad_body"})
		return
	}
	allowed := false
	for _, g := range s.byID[in.UserID].Grants {
		if auth.Match(g, in.Resource) {
			allowed = true
		}
	}
	writeJSON(w, http.StatusOK, auth.CheckResponse{Allowed: allowed})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// loginPage is the fake's SSO login page: pick a demo user, sign in.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Sign in · mock SSO</title>
<style>body{font:16px system-ui,sans-serif;background:#f4f5f7;color:#1d2129;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 1px 4px #0002;min-width:20rem}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.5rem 0}
button{margin-top:1rem;font:inherit;padding:.5rem 1.5rem;background:#1456b8;color:#fff;border:0;border-radius:4px;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #f5a623;outline-offset:2px}</style></head>
<body><form method="post" action="/login" aria-labelledby="t">
<h1 id="t">Sign in to the company SSO (mock)</h1>
<fieldset style="border:0;padding:0"><legend>Demo user</legend>
{{range $i, $u := .Users}}<label><input type="radio" name="user" value="{{$u.Token}}"{{if eq $i 0}} checked{{end}}> {{$u.Token}} — {{$u.Name}}</label>
{{end}}</fieldset>
<input type="hidden" name="redirect" value="{{.Redirect}}"><input type="hidden" name="state" value="{{.State}}">
<button type="submit" id="signin">Sign in</button></form></body></html>`))

type loginUser struct{ Token, Name string }

// loginForm shows the demo users (not the expired one) as a form that
// posts back to /login.
func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	redirect := r.URL.Query().Get("redirect")
	if !loopbackURL(redirect) {
		http.Error(w, "redirect: must be an http URL on 127.0.0.1 or localhost", http.StatusBadRequest)
		return
	}
	var users []loginUser
	for tok, u := range s.opts.Users {
		if !u.Expired {
			users = append(users, loginUser{Token: tok, Name: u.Name})
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Token < users[j].Token })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{"Users": users, "Redirect": redirect, "State": r.URL.Query().Get("state")})
}

// loginSubmit sends the browser back to the site that asked, with the
// chosen user's session token and the site's state.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	redirect, token := r.PostForm.Get("redirect"), r.PostForm.Get("user")
	u, ok := s.opts.Users[token]
	if !loopbackURL(redirect) || !ok || u.Expired {
		http.Error(w, "user or redirect: not a demo user or not a loopback URL", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(redirect)
	q := back.Query()
	q.Set("token", token)
	q.Set("state", r.PostForm.Get("state"))
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// loopbackURL: the fake sends browsers back only to loopback sites (a real
// SSO checks the site's registered callback).
func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Package batch is the merge endpoint: one GET runs several routes of the
// same server concurrently and answers each part with its own status and
// envelope, so a page loads its first screen with one request.
//
// # Contract
//
//	GET /api/batch?part=/api/me&part=/api/dash/video/realtime&part=/api/dash/video/ranking%3Flimit%3D5
//
// Each part is a path (with its own query, URL-encoded as a whole) under
// the allowed prefix, at most MaxParts of them. The answer is always 200
// with the parts in the order asked:
//
//	{"code":0,"data":{"parts":[
//	  {"path":"/api/me","status":200,"body":{"code":0,"data":{...}}},
//	  {"path":"/api/dash/music/realtime","status":403,"body":{"code":403,"msg":"forbidden: no permission for bizline:music",...}}]}}
//
// A part runs through the server's full handler chain, as if it had been
// requested on its own with the merged request's cookies, Authorization,
// Origin and Referer: its own auth, permission, cache, deadline, fields,
// metrics and access log. One part's failure (403, 504...) never fails the
// others; all of them run under the merged request's deadline. A bad merged
// request (no part, too many, a part outside the prefix or naming the merge
// endpoint itself) is a 400 naming the part.
//
// JSONP works on the merged request like on any public route. Its callback
// is handed to every part, so a login-required part asked from a page that
// is not on auth.jsonp_referer_allowlist is refused (its own 400) exactly as
// it would be alone; the parts' answers are embedded as JSON.
package batch

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/middleware"
	"github.com/wings-bff/wings/framework/render"
	"github.com/wings-bff/wings/framework/wings"
)

// Defaults of Options.
const (
	DefaultMaxParts     = 8
	DefaultMaxPartBytes = 1 << 20
	DefaultPrefix       = "/api/"
)

// Param is the query parameter naming a part.
const Param = "part"

// forwarded are the request headers a part inherits: the caller's
// credentials and the page that asks (for the JSONP guard).
var forwarded = []string{"Cookie", "Authorization", "Origin", "Referer", "User-Agent", "Accept-Language"}

// Options configure the endpoint.
type Options struct {
	// Prefix is what every part's path must start with; "" means
	// DefaultPrefix.
	Prefix string
	// Self is the merge endpoint's own path, refused as a part.
	Self string
	// MaxParts bounds the parts of one request; 0 means DefaultMaxParts.
	MaxParts int
	// MaxPartBytes bounds one part's answer; a larger one becomes that
	// part's 500. 0 means DefaultMaxPartBytes.
	MaxPartBytes int
}

// Endpoint serves merged requests through h, the server's full handler
// (the wings Runtime).
type Endpoint struct {
	h    http.Handler
	opts Options
}

// New returns the merge endpoint dispatching parts to h.
func New(h http.Handler, opts Options) *Endpoint {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxParts <= 0 {
		opts.MaxParts = DefaultMaxParts
	}
	if opts.MaxPartBytes <= 0 {
		opts.MaxPartBytes = DefaultMaxPartBytes
	}
	return &Endpoint{h: h, opts: opts}
}

// Part is one part of the merged answer.
type Part struct {
	// Path is the part as asked.
	Path   string          `json:"path"`
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Answer is the merged answer's data.
type Answer struct {
	Parts []Part `json:"parts"`
}

// Serve is the echo handler of GET <Self>?part=...
func (e *Endpoint) Serve(c echo.Context) error {
	asked := c.QueryParams()[Param]
	targets, err := e.parse(asked)
	if err != nil {
		return err
	}
	req := c.Request()
	cb := wings.Callback(c)
	id := c.Response().Header().Get(echo.HeaderXRequestID)
	out := Answer{Parts: make([]Part, len(targets))}
	var wg sync.WaitGroup
	for i, u := range targets {
		q := u.Query()
		for _, p := range wings.CallbackParams {
			q.Del(p)
		}
		if cb != "" {
			q.Set(wings.CallbackParam, cb)
		}
		u.RawQuery = q.Encode()
		pr, err := http.NewRequestWithContext(wings.AsPart(req.Context()), http.MethodGet, u.RequestURI(), nil)
		if err != nil {
			return apperr.BadParam("part %d: %s", i+1, err.Error())
		}
		pr.RemoteAddr, pr.Host = req.RemoteAddr, req.Host
		for _, h := range forwarded {
			if v := req.Header.Values(h); len(v) > 0 {
				pr.Header[h] = v
			}
		}
		if id != "" {
			pr.Header.Set(middleware.HeaderRequestID, id+"."+strconv.Itoa(i+1))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Parts[i] = e.run(pr, asked[i])
		}()
	}
	wg.Wait()
	return wings.JSON(c, out)
}

// run serves one part and returns its status and envelope.
func (e *Endpoint) run(r *http.Request, p string) Part {
	rec := &recorder{header: http.Header{}, limit: e.opts.MaxPartBytes}
	e.h.ServeHTTP(rec, r)
	part := Part{Path: p, Status: rec.status}
	if part.Status == 0 {
		part.Status = http.StatusOK
	}
	body := rec.body.Bytes()
	switch {
	case rec.over:
		part.Status = http.StatusInternalServerError
		body = failure(part.Status, "part answer larger than "+strconv.Itoa(e.opts.MaxPartBytes)+" bytes", r)
	case !json.Valid(body):
		msg := "part answered no JSON"
		if part.Status < 400 {
			part.Status = http.StatusBadGateway
		}
		body = failure(part.Status, msg, r)
	}
	part.Body = json.RawMessage(append([]byte(nil), body...))
	return part
}

func failure(status int, msg string, r *http.Request) []byte {
	return render.Failure{Code: status, Msg: msg, Error: "internal", RequestID: r.Header.Get(middleware.HeaderRequestID)}.Bytes()
}

// parse checks the parts: 1 to MaxParts relative paths under the prefix,
// clean, and not the merge endpoint itself.
func (e *Endpoint) parse(parts []string) ([]*url.URL, error) {
	if len(parts) == 0 {
		return nil, apperr.BadParam("%s: at least one part is required (%s=/api/...)", Param, Param)
	}
	if len(parts) > e.opts.MaxParts {
		return nil, apperr.BadParam("%s: %d parts; at most %d", Param, len(parts), e.opts.MaxParts)
	}
	out := make([]*url.URL, len(parts))
	for i, s := range parts {
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" || u.Opaque != "":
			return nil, apperr.BadParam("%s %d: must be a path like %suser/1?fields=id", Param, i+1, e.opts.Prefix)
		case !strings.HasPrefix(u.Path, e.opts.Prefix) || path.Clean(u.Path) != u.Path:
			return nil, apperr.BadParam("%s %d: path %q must be a clean path under %s", Param, i+1, clip(u.Path), e.opts.Prefix)
		case e.opts.Self != "" && u.Path == e.opts.Self:
			return nil, apperr.BadParam("%s %d: the merge endpoint cannot be a part of itself", Param, i+1)
		}
		u.RawPath = ""
		out[i] = u
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// recorder keeps a part's status, headers and body (up to limit bytes).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
	over   bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > r.limit {
		r.over = true
		return len(b), nil
	}
	return r.body.Write(b)
}

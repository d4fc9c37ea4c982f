package apptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Result is the app's answer to one request. Its methods assert on it in
// one line each, report failures with t.Errorf naming the request and
// body, and return the Result so that checks chain:
//
//	app.Get(t, "/api/video/42").OK(t).Degraded(t, "stars")
type Result struct {
	Request string // "GET /api/video/42"
	Status  int
	Header  http.Header
	Body    []byte
}

// Envelope is the decoded Wings answer: {"code":0,"data":...} on success,
// {"code":<status>,"msg":...,"error":<kind>,"request_id":...} on failure.
type Envelope struct {
	Code      int             `json:"code"`
	Data      json.RawMessage `json:"data"`
	Degraded  []string        `json:"degraded"`
	Stale     []string        `json:"stale"`
	Msg       string          `json:"msg"`
	Error     string          `json:"error"`
	RequestID string          `json:"request_id"`
}

func (r *Result) String() string {
	const max = 400
	b := r.Body
	if len(b) > max {
		b = append(b[:max:max], "..."...)
	}
	return fmt.Sprintf("%s = %d %s", r.Request, r.Status, b)
}

// Decode decodes the body as an envelope; JSONP is unwrapped first.
func (r *Result) Decode(t testing.TB) Envelope {
	t.Helper()
	body := r.Body
	if cb, inner, ok := jsonpParts(body); ok && cb != "" {
		body = inner
	}
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: not a JSON envelope: %v", r, err)
	}
	return e
}

// OK asserts a 200 success envelope, {"code":0,"data":...}, with nothing
// degraded or stale.
func (r *Result) OK(t testing.TB) *Result {
	t.Helper()
	e := r.Decode(t)
	if r.Status != http.StatusOK || e.Code != 0 || len(e.Data) == 0 || e.Error != "" {
		t.Errorf("%s; want 200 {\"code\":0,\"data\":...}", r)
	}
	if len(e.Degraded) > 0 || len(e.Stale) > 0 {
		t.Errorf("%s; want nothing degraded or stale", r)
	}
	return r
}

// Is asserts the status and the whole body (less a trailing newline).
func (r *Result) Is(t testing.TB, status int, body string) *Result {
	t.Helper()
	if r.Status != status || string(bytes.TrimRight(r.Body, "\n")) != body {
		t.Errorf("%s\nwant %d %s", r, status, body)
	}
	return r
}

// Contains asserts the status and that the body holds fragment.
func (r *Result) Contains(t testing.TB, status int, fragment string) *Result {
	t.Helper()
	if r.Status != status || !bytes.Contains(r.Body, []byte(fragment)) {
		t.Errorf("%s; want %d with %s", r, status, fragment)
	}
	return r
}

// Envelope asserts the status and a well-formed envelope for it: code 0
// and data for a 2xx, otherwise code equal to the status, a message, an
// error kind and the request id.
func (r *Result) Envelope(t testing.TB, status int) *Result {
	t.Helper()
	e := r.Decode(t)
	switch {
	case r.Status != status:
		t.Errorf("%s; want status %d", r, status)
	case status < 300 && (e.Code != 0 || len(e.Data) == 0):
		t.Errorf("%s; want {\"code\":0,\"data\":...}", r)
	case status >= 300 && (e.Code != status || e.Msg == "" || e.Error == "" || e.RequestID == "" || e.RequestID != r.Header.Get("X-Request-Id")):
		t.Errorf("%s; want {\"code\":%d,\"msg\":...,\"error\":...,\"request_id\":<X-Request-Id>}", r, status)
	}
	return r
}

// Error asserts an error envelope of status and kind ("not_found",
// "upstream_error", "bad_param", ...).
func (r *Result) Error(t testing.TB, status int, kind string) *Result {
	t.Helper()
	r.Envelope(t, status)
	if e := r.Decode(t); e.Error != kind {
		t.Errorf("%s; want error kind %q", r, kind)
	}
	return r
}

// JSONP asserts a 200 JavaScript answer calling cb with a success envelope.
func (r *Result) JSONP(t testing.TB, cb string) *Result {
	t.Helper()
	got, inner, ok := jsonpParts(r.Body)
	if r.Status != http.StatusOK || !ok || got != cb || !json.Valid(inner) {
		t.Errorf("%s; want 200 /**/%s({...});", r, cb)
		return r
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/javascript") {
		t.Errorf("%s: Content-Type %q; want application/javascript", r, ct)
	}
	if e := r.Decode(t); e.Code != 0 {
		t.Errorf("%s; want code 0 inside the callback", r)
	}
	return r
}

// Degraded asserts a 200 success whose "degraded" list is exactly parts.
func (r *Result) Degraded(t testing.TB, parts ...string) *Result {
	t.Helper()
	e := r.Decode(t)
	if r.Status != http.StatusOK || e.Code != 0 || !slices.Equal(e.Degraded, parts) {
		t.Errorf("%s; want 200 with degraded %q", r, parts)
	}
	return r
}

// Stale asserts a 200 success whose "stale" list is exactly parts.
func (r *Result) Stale(t testing.TB, parts ...string) *Result {
	t.Helper()
	e := r.Decode(t)
	if r.Status != http.StatusOK || e.Code != 0 || !slices.Equal(e.Stale, parts) {
		t.Errorf("%s; want 200 with stale %q", r, parts)
	}
	return r
}

// Data decodes the envelope's data into v.
func (r *Result) Data(t testing.TB, v any) *Result {
	t.Helper()
	if err := json.Unmarshal(r.Decode(t).Data, v); err != nil {
		t.Fatalf("%s: data: %v", r, err)
	}
	return r
}

// jsonpParts splits "/**/cb(<inner>);" into cb and inner.
func jsonpParts(body []byte) (cb string, inner []byte, ok bool) {
	b := bytes.TrimRight(body, "\n")
	rest, found := bytes.CutPrefix(b, []byte("/**/"))
	if !found || !bytes.HasSuffix(rest, []byte(");")) {
		return "", nil, false
	}
	i := bytes.IndexByte(rest, '(')
	if i <= 0 {
		return "", nil, false
	}
	return string(rest[:i]), rest[i+1 : len(rest)-2], true
}

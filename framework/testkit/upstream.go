package testkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// RecordEnv names the variable that turns recording on: a comma-separated
// list of name=baseURL, e.g. WINGS_RECORD=video=http://127.0.0.1:9090.
// A Replay upstream named in it proxies every request to baseURL and
// writes what it got to its file when the test ends.
const RecordEnv = "WINGS_RECORD"

// Upstream is a fake team on 127.0.0.1:0 for one test; Start points the
// config's upstreams.<name>.base_url at it. The test's cleanup closes it.
type Upstream struct {
	*Team
	// URL is the fake's base URL, http://127.0.0.1:port.
	URL string
}

// NewUpstream starts a fake team named name that replies with answer.
func NewUpstream(t testing.TB, name string, answer Answer) *Upstream {
	t.Helper()
	u := &Upstream{Team: NewTeam(name, answer)}
	ts := httptest.NewServer(u.Team)
	t.Cleanup(ts.Close)
	u.URL = ts.URL
	return u
}

// Refusing returns an upstream named name whose address refuses every
// connection until the test ends (ClosedAddr): a team whose servers are
// all down. Its Team never answers, so faults and Calls do not apply.
func Refusing(t testing.TB, name string) *Upstream {
	t.Helper()
	return &Upstream{Team: NewTeam(name, Bodies(nil)), URL: "http://" + ClosedAddr(t)}
}

// Bodies answers each request URI (path and query, as the upstream client
// sends it) in bodies with 200 and that JSON body, and anything else with
// 404.
func Bodies(bodies map[string]string) Answer {
	return func(r *http.Request) (int, []byte) {
		if b, ok := bodies[r.URL.RequestURI()]; ok {
			return http.StatusOK, []byte(b)
		}
		return http.StatusNotFound, []byte(`{"error":"not found"}`)
	}
}

// Recording is one recorded exchange: the request, as "GET /path?query",
// and the team's answer. Body holds a JSON answer; Text any other.
type Recording struct {
	Request string          `json:"request"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body,omitempty"`
	Text    string          `json:"text,omitempty"`
}

// Replay starts a fake team named name that answers from the recordings in
// file (testdata/upstreams/<name>.json by convention). A request with no
// recording fails the test, naming the request and how to record it.
//
// With WINGS_RECORD=name=baseURL the fake records instead: it forwards
// each request to the real team at baseURL, answers what the team answered,
// and when the test ends writes the exchanges into file, keeping the
// recordings of requests this run did not make. Record once, commit the
// file, and the test runs offline from then on.
func Replay(t testing.TB, name, file string) *Upstream {
	t.Helper()
	recs, err := ReadRecordings(file)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && recordURL(name) != "") {
		t.Fatalf("testkit: upstream %s: %v (record it with %s=%s=<base URL>)", name, err, RecordEnv, name)
	}
	byReq := map[string]Recording{}
	for _, r := range recs {
		byReq[r.Request] = r
	}
	if base := recordURL(name); base != "" {
		rec := &recorder{t: t, name: name, file: file, base: strings.TrimRight(base, "/"), got: byReq}
		t.Cleanup(rec.write) // registered before the server's Close, so it runs after it
		return NewUpstream(t, name, rec.answer)
	}
	return NewUpstream(t, name, func(r *http.Request) (int, []byte) {
		key := requestKey(r)
		rec, ok := byReq[key]
		if !ok {
			t.Errorf("testkit: upstream %s has no recording of %s in %s (record it with %s=%s=<base URL>)", name, key, file, RecordEnv, name)
			return http.StatusNotImplemented, []byte(`{"error":"no recording"}`)
		}
		return rec.Status, rec.answer()
	})
}

// ReadRecordings reads a recordings file.
func ReadRecordings(file string) ([]Recording, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var recs []Recording
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return recs, nil
}

// WriteRecordings writes recs to file, sorted by request and indented so
// that a re-recording diffs well.
func WriteRecordings(file string, recs []Recording) error {
	recs = append([]Recording(nil), recs...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Request < recs[j].Request })
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// answer returns the recorded body as the team sent it, less the indentation.
func (r Recording) answer() []byte {
	if r.Body == nil {
		return []byte(r.Text)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, r.Body); err != nil {
		return r.Body
	}
	return buf.Bytes()
}

func requestKey(r *http.Request) string { return r.Method + " " + r.URL.RequestURI() }

// recordURL returns the base URL WINGS_RECORD gives the upstream name, or "".
func recordURL(name string) string {
	for _, item := range strings.Split(os.Getenv(RecordEnv), ",") {
		if n, url, ok := strings.Cut(strings.TrimSpace(item), "="); ok && n == name {
			return url
		}
	}
	return ""
}

// recorder forwards requests to the real team and keeps the exchanges.
type recorder struct {
	t          testing.TB
	name, file string
	base       string
	mu         sync.Mutex
	got        map[string]Recording
	changed    bool
}

func (rc *recorder) answer(r *http.Request) (int, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, rc.base+r.URL.RequestURI(), r.Body)
	if err != nil {
		rc.t.Errorf("testkit: record %s: %v", rc.name, err)
		return http.StatusBadGateway, []byte(`{"error":"record failed"}`)
	}
	for k, v := range r.Header {
		if k != "Connection" && k != "Accept-Encoding" {
			req.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		rc.t.Errorf("testkit: record %s: %v", rc.name, err)
		return http.StatusBadGateway, []byte(`{"error":"record failed"}`)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Errorf("testkit: record %s: %v", rc.name, err)
		return http.StatusBadGateway, []byte(`{"error":"record failed"}`)
	}
	rec := Recording{Request: requestKey(r), Status: resp.StatusCode}
	if json.Valid(body) {
		rec.Body = append(json.RawMessage(nil), body...)
	} else {
		rec.Text = string(body)
	}
	rc.mu.Lock()
	rc.got[rec.Request] = rec
	rc.changed = true
	rc.mu.Unlock()
	return resp.StatusCode, body
}

func (rc *recorder) write() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.changed {
		return
	}
	recs := make([]Recording, 0, len(rc.got))
	for _, r := range rc.got {
		recs = append(recs, r)
	}
	if err := WriteRecordings(rc.file, recs); err != nil {
		rc.t.Errorf("testkit: record %s: %v", rc.name, err)
		return
	}
	rc.t.Logf("testkit: recorded %d exchanges of upstream %s into %s", len(recs), rc.name, rc.file)
}

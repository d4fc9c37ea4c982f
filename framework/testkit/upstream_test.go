package testkit_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/testkit"
)

// get calls url and returns the status and body, or the error.
func get(t *testing.T, c *http.Client, url string) (int, []byte, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func TestTeamFaults(t *testing.T) {
	t.Parallel()
	const body = `{"code":0,"data":{"id":42}}`
	team := testkit.NewUpstream(t, "item", testkit.Bodies(map[string]string{"/item/42": body}))
	url := team.URL + "/item/42"
	c := &http.Client{Timeout: 200 * time.Millisecond}
	tests := []struct {
		name   string
		fault  testkit.Fault
		status int
		body   string // "" when no answer is expected
	}{
		{"healthy", testkit.Fault{}, 200, body},
		{"500", testkit.Status(500), 500, testkit.InjectedBody},
		{"broken JSON", testkit.BrokenJSON(), 200, body[:len(body)/2]},
		{"another body", testkit.Fault{Body: []byte(`{"x":1}`)}, 200, `{"x":1}`},
		{"503 with a body", testkit.Fault{Status: 503, Body: []byte(`{"busy":true}`)}, 503, `{"busy":true}`},
		{"slow", testkit.Slow(5 * time.Second), 0, ""},
		{"down", testkit.Down(), 0, ""},
	}
	for i, tc := range tests {
		team.Fail(tc.fault)
		status, got, err := get(t, c, url)
		switch {
		case tc.body == "" && err == nil:
			t.Errorf("%s: answered %d %s; want no answer", tc.name, status, got)
		case tc.body != "" && (err != nil || status != tc.status || !bytes.Equal(got, []byte(tc.body))):
			t.Errorf("%s: %d %s, %v; want %d %s", tc.name, status, got, err, tc.status, tc.body)
		}
		if team.Calls() != int64(i+1) {
			t.Errorf("%s: calls = %d; want %d", tc.name, team.Calls(), i+1)
		}
	}
	team.Heal()
	if status, got, err := get(t, c, url); err != nil || status != 200 || string(got) != body {
		t.Errorf("healed: %d %s, %v", status, got, err)
	}
	if status, _, _ := get(t, c, team.URL+"/item/7"); status != 404 {
		t.Errorf("unknown request answered %d; want 404", status)
	}
	team.ResetCalls()
	if team.Calls() != 0 {
		t.Errorf("calls after reset = %d", team.Calls())
	}
}

func TestRefusing(t *testing.T) {
	t.Parallel()
	u := testkit.Refusing(t, "item")
	if _, _, err := get(t, http.DefaultClient, u.URL+"/item/42"); err == nil {
		t.Error("a refusing upstream answered")
	}
}

func TestRecordingsRoundTrip(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "deep", "item.json")
	in := []testkit.Recording{
		{Request: "GET /item/9", Status: 200, Body: json.RawMessage(`{"a": [1, 2]}`)},
		{Request: "GET /item/10", Status: 502, Text: "<html>bad gateway</html>"},
	}
	if err := testkit.WriteRecordings(file, in); err != nil {
		t.Fatal(err)
	}
	out, err := testkit.ReadRecordings(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Request != "GET /item/10" || out[1].Request != "GET /item/9" {
		t.Errorf("recordings = %+v; want both, sorted by request", out)
	}
	// Replay answers the recorded bytes, without the file's indentation.
	team := testkit.Replay(t, "item", file)
	if status, got, err := get(t, http.DefaultClient, team.URL+"/item/9"); err != nil || status != 200 || string(got) != `{"a":[1,2]}` {
		t.Errorf("replayed %d %s, %v", status, got, err)
	}
	if status, got, err := get(t, http.DefaultClient, team.URL+"/item/10"); err != nil || status != 502 || string(got) != "<html>bad gateway</html>" {
		t.Errorf("replayed %d %s, %v", status, got, err)
	}
}

// TestReplayMissingRecordingFails runs a replay that meets a request it
// has no recording of, in a test of its own, and checks that test failed.
func TestReplayMissingRecordingFails(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "name.json")
	if err := testkit.WriteRecordings(file, []testkit.Recording{{Request: "GET /name/1", Status: 200, Body: json.RawMessage(`{"name":"Bo"}`)}}); err != nil {
		t.Fatal(err)
	}
	inner := &recordingT{TB: t}
	func() {
		defer inner.cleanup()
		name := testkit.Replay(inner, "name", file)
		resp, err := http.Get(name.URL + "/name/2")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("unrecorded request answered %d; want 501", resp.StatusCode)
		}
	}()
	if len(inner.errors) != 1 {
		t.Errorf("errors = %q; want one naming the request", inner.errors)
	}
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}

// recordingT is a testing.TB that keeps Errorf messages and cleanups, to
// test what the kit reports.
type recordingT struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recordingT) Helper()               {}
func (r *recordingT) Cleanup(f func())      { r.cleanups = append(r.cleanups, f) }
func (r *recordingT) Errorf(string, ...any) { r.errors = append(r.errors, "error") }
func (r *recordingT) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceIsUpToDate fails while docs/configuration-reference.md
// differs from what the config structs and conf/config.default.yaml make.
func TestReferenceIsUpToDate(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	want, err := Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, Output))
	if err != nil {
		t.Fatalf("%v: generate it with make docs (go run ./framework/config/configdoc)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is out of date: regenerate it with make docs (go run ./framework/config/configdoc)\nline %d is\n\t%s\nwant\n\t%s", Output, i+1, g, w)
			}
		}
	}
}

// TestReferenceRows checks rows of each kind: a plain key with its doc
// comment, a secret, a <name> entry with per-entry defaults, and a map of
// scalars.
func TestReferenceRows(t *testing.T) {
	t.Parallel()
	b, err := Generate(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `server.request_timeout` | duration | `3s` | `WINGS_SERVER__REQUEST_TIMEOUT` | `request_timeout` is the default deadline of every request. |",
		"| `redis.password` | secret | environment only | `WINGS_REDIS__PASSWORD` |",
		"| `upstreams.<name>.timeout` | duration | video: `800ms`, album: `800ms`, star: `500ms` | `WINGS_UPSTREAMS__<name>__TIMEOUT` |",
		"| `upstreams.<name>` | map | `video`, `album`, `star` |  |",
		"| `features.<name>` | bool |",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	if strings.Contains(string(b), "| `env` |") || strings.Contains(string(b), "| `analytics.") {
		t.Error("reference lists env or the app's own keys")
	}
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wings-bff/wings/framework/config/configdoc"
)

// TestReferenceIsUpToDate fails while docs/configuration-reference.md
// differs from what the config structs and conf/config.default.yaml make.
func TestReferenceIsUpToDate(t *testing.T) {
	root := filepath.Join("..", "..")
	want, err := generate(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, configdoc.Output))
	if err != nil {
		t.Fatalf("%v: generate it with make docs (go run ./cmd/configdoc)", err)
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
				t.Fatalf("%s is out of date: regenerate it with make docs (go run ./cmd/configdoc)\nline %d is\n\t%s\nwant\n\t%s", configdoc.Output, i+1, g, w)
			}
		}
	}
}

// TestReferenceHasAppKeys checks that the app's own section is documented
// with its meanings, beside the framework's.
func TestReferenceHasAppKeys(t *testing.T) {
	t.Parallel()
	b, err := generate(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| `analytics.timezone` | string | `Asia/Shanghai` | `WINGS_ANALYTICS__TIMEZONE` | `timezone` fixes hour and day boundaries (IANA name). |",
		"| `analytics.classes.raw.max_execution_time` | duration | `3s` | `WINGS_ANALYTICS__CLASSES__RAW__MAX_EXECUTION_TIME` | `max_execution_time` is sent to ClickHouse",
		"| `server.request_timeout` | duration | `3s` |",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

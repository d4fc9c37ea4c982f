package static_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/wings-bff/wings/framework/static"
)

// Fingerprinted files are immutable for a year; pages are revalidated with
// their ETag and answered 304 when unchanged.
func TestCachePolicy(t *testing.T) {
	t.Parallel()
	f, err := static.New(fstest.MapFS{
		"index.html":              {Data: []byte("<!doctype html>")},
		"assets/dash-CVBZC7NC.js": {Data: []byte("console.log(1)")},
		"assets/logo.svg":         {Data: []byte("<svg/>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, cache, ctype string }{
		{"index.html", "no-cache", "text/html; charset=utf-8"},
		{"assets/dash-CVBZC7NC.js", "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"assets/logo.svg", "no-cache", "image/svg+xml"},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		if err := f.Serve(w, httptest.NewRequest(http.MethodGet, "/", nil), tc.name); err != nil {
			t.Fatal(err)
		}
		if w.Code != 200 || w.Header().Get("Cache-Control") != tc.cache || w.Header().Get("Content-Type") != tc.ctype {
			t.Errorf("%s: %d Cache-Control %q Content-Type %q; want %q, %q", tc.name, w.Code, w.Header().Get("Cache-Control"), w.Header().Get("Content-Type"), tc.cache, tc.ctype)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("If-None-Match", w.Header().Get("ETag"))
		w2 := httptest.NewRecorder()
		_ = f.Serve(w2, req, tc.name)
		if w2.Code != http.StatusNotModified || w2.Body.Len() != 0 {
			t.Errorf("%s revalidated: %d with %d bytes; want 304, empty", tc.name, w2.Code, w2.Body.Len())
		}
	}
	if err := f.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), "assets/nope.js"); !errors.Is(err, static.ErrNotFound) {
		t.Errorf("unknown file: %v; want ErrNotFound", err)
	}
}

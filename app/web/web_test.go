package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The demo site serves the video page pointing at the given API (escaped
// for HTML) and its fingerprinted assets as immutable.
func TestDemoSite(t *testing.T) {
	t.Parallel()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	h := p.DemoSite(`http://127.0.0.1:8080"><script>`)
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w
	}
	page := get("/?id=42")
	body := page.Body.String()
	if page.Code != 200 || !strings.Contains(body, `content="http://127.0.0.1:8080&#34;&gt;&lt;script&gt;"`) || strings.Contains(body, "%API%") {
		t.Fatalf("page: %d, meta not the escaped API: %.400s", page.Code, body)
	}
	js := regexp.MustCompile(`src="/(assets/video-[A-Z2-7]{8}\.js)"`).FindStringSubmatch(body)
	if js == nil {
		t.Fatalf("page names no fingerprinted script: %.400s", body)
	}
	if w := get("/" + js[1]); w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Errorf("asset: %d Cache-Control %q", w.Code, w.Header().Get("Cache-Control"))
	}
	for _, path := range []string{"/assets/nope.js", "/index.html", "/etc/passwd"} {
		if w := get(path); w.Code != 404 {
			t.Errorf("%s: %d; want 404", path, w.Code)
		}
	}
}

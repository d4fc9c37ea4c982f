package mocksso

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The login page lists the demo users (not the expired one) and sends the
// browser back to a loopback site with the chosen token and the state.
func TestLoginPage(t *testing.T) {
	t.Parallel()
	h := New(Options{AppKey: "k", Secret: []byte("s")}).Handler()
	back := "http://127.0.0.1:8080/auth/callback?next=%2F"

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?state=st&redirect="+url.QueryEscape(back), nil))
	body := w.Body.String()
	for _, tok := range []string{"demo-video", "demo-music", "demo-admin"} {
		if !strings.Contains(body, `value="`+tok+`"`) {
			t.Errorf("login page lacks %s", tok)
		}
	}
	if w.Code != 200 || strings.Contains(body, "demo-expired") {
		t.Errorf("login page: %d, lists demo-expired = %v", w.Code, strings.Contains(body, "demo-expired"))
	}

	form := url.Values{"user": {"demo-music"}, "redirect": {back}, "state": {"st"}}
	w = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(w, req)
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || loc != "http://127.0.0.1:8080/auth/callback?next=%2F&state=st&token=demo-music" {
		t.Errorf("sign in: %d Location %q", w.Code, loc)
	}

	for _, bad := range []string{"https://evil.example/cb", "http://10.0.0.1/cb", "javascript:alert(1)", ""} {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?redirect="+url.QueryEscape(bad), nil))
		if w.Code != http.StatusBadRequest {
			t.Errorf("redirect %q: %d; want 400", bad, w.Code)
		}
	}
}

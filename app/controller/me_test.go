package controller_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wings-bff/wings/app/controller"
	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// /api/me keeps its id and name and adds the lines the caller may see, in
// the configured order.
func TestMeListsPermittedLines(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Env: "test", Log: config.Log{Level: "warn", Format: "json"},
		Server: config.Server{RequestTimeout: time.Second},
		Auth: config.Auth{Identity: config.AuthIdentity{Provider: "static"}, Permission: config.AuthPermission{Provider: "static"},
			Static: config.AuthStatic{Users: map[string]config.AuthStaticUser{
				"u-music": {Token: "demo-music", Name: "Music analyst", Grants: []string{"bizline:music"}},
				"u-admin": {Token: "demo-admin", Name: "Administrator", Grants: []string{"bizline:*"}},
				"u-none":  {Token: "demo-none", Name: "Nobody"},
			}}}}
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	me := controller.NewMeController(rt.Auth(), []string{"video", "music", "mall"})
	rt.Handle(wings.Route{Method: http.MethodGet, Path: "/api/me", Auth: auth.LoginOnly, Handler: me.Get})
	for _, tc := range []struct{ token, want string }{
		{"demo-music", `{"code":0,"data":{"id":"u-music","name":"Music analyst","lines":["music"]}}`},
		{"demo-admin", `{"code":0,"data":{"id":"u-admin","name":"Administrator","lines":["video","music","mall"]}}`},
		{"demo-none", `{"code":0,"data":{"id":"u-none","name":"Nobody","lines":[]}}`},
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		if w.Code != 200 || w.Body.String() != tc.want {
			t.Errorf("%s: %d %s; want %s", tc.token, w.Code, w.Body, tc.want)
		}
	}
}

// downFor is a permission service that cannot answer for one line.
type downFor string

func (d downFor) Authorize(_ context.Context, _ *auth.User, resource string) error {
	if resource == string(d) {
		return apperr.Wrap(apperr.KindUnavailable, errors.New("connection refused"), "permission service unavailable")
	}
	return nil
}

// A line whose permission cannot be checked is left out and the answer is
// marked degraded, not failed: the caller is known.
func TestMeDegradesWhenPermissionsAreDown(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Env: "test", Log: config.Log{Level: "warn", Format: "json"}, Server: config.Server{RequestTimeout: time.Second},
		Auth: config.Auth{Identity: config.AuthIdentity{Provider: "static"}, Permission: config.AuthPermission{Provider: "static"},
			Static: config.AuthStatic{Users: map[string]config.AuthStaticUser{"u-admin": {Token: "demo-admin"}}}}}
	rt, err := wings.New(cfg, wings.Options{LogOutput: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	me := controller.NewMeController(downFor("bizline:music"), []string{"video", "music"})
	rt.Handle(wings.Route{Method: http.MethodGet, Path: "/api/me", Auth: auth.LoginOnly, Handler: me.Get})
	req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	req.Header.Set("Authorization", "Bearer demo-admin")
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, req)
	if want := `{"code":0,"data":{"id":"u-admin","lines":["video"]},"degraded":["lines"]}`; w.Code != 200 || w.Body.String() != want {
		t.Errorf("got %d %s; want %s", w.Code, w.Body, want)
	}
}

// Package web serves the example app's front end, built from web/ by
// `make web` into dist/ and embedded in the binary: the dashboards page at
// / (login required) and the JSONP video page of the demo PC site.
package web

import (
	"bytes"
	"embed"
	"errors"
	"html"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/static"
)

//go:embed dist
var dist embed.FS

// Pages serves the built front end.
type Pages struct {
	files *static.Files
}

// New loads the embedded build.
func New() (*Pages, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	files, err := static.New(sub)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"index.html", "video.html"} {
		if !files.Has(name) {
			return nil, errors.New("web: the embedded build has no " + name + " (run make web)")
		}
	}
	return &Pages{files: files}, nil
}

// Dashboards serves GET /: the dashboards page.
func (p *Pages) Dashboards(c echo.Context) error {
	return p.files.Serve(c.Response(), c.Request(), "index.html")
}

// Asset serves GET /assets/*: the pages' fingerprinted bundles.
func (p *Pages) Asset(c echo.Context) error {
	err := p.files.Serve(c.Response(), c.Request(), "assets/"+c.Param("*"))
	if errors.Is(err, static.ErrNotFound) {
		return apperr.NotFound("asset not found")
	}
	return err
}

// DemoSite is the demo PC site (wings demo-site): the video page, which
// reads api's /api/video/:id through JSONP, at / and /video.html, and its
// assets.
func (p *Pages) DemoSite(api string) http.Handler {
	page := bytes.ReplaceAll(p.files.Bytes("video.html"), []byte("%API%"), []byte(html.EscapeString(api)))
	mux := http.NewServeMux()
	servePage := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/video.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", static.CacheRevalidate)
		_, _ = w.Write(page)
	}
	mux.HandleFunc("GET /", servePage)
	mux.HandleFunc("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		if err := p.files.Serve(w, r, r.URL.Path[1:]); err != nil {
			http.NotFound(w, r)
		}
	})
	return mux
}

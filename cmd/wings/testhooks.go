package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/wings"
)

// testRoutes are served only when WINGS_ENV=test: hooks through which the
// integration tests (test/) reach failures no real route has on purpose.
//
// GET /_test/panic/:id is a cached route whose handler panics on every
// computation of id "always", and on every one after the first for any
// other id: the first request answers, and once the 1s TTL has passed the
// stale answer is served while the background refresh panics.
func testRoutes() []wings.Route {
	var mu sync.Mutex
	computed := map[string]int{}
	return []wings.Route{{
		Method: http.MethodGet, Path: "/_test/panic/:id", Name: "test_panic",
		Cache: &wings.CacheOptions{TTL: time.Second, Grace: time.Minute},
		Handler: func(c echo.Context) error {
			id := c.Param("id")
			mu.Lock()
			computed[id]++
			n := computed[id]
			mu.Unlock()
			if id == "always" || n > 1 {
				panic("test hook: the handler panics")
			}
			return wings.JSON(c, map[string]any{"id": id, "n": n})
		},
	}}
}

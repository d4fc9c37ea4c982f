package app

import (
	"net/http"
	"time"

	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/wings"
)

// Routes is the route table, like the seed's app/router.js.
func Routes(c *Container) []wings.Route {
	return []wings.Route{
		// Who am I: any logged-in user; the front end shows the name.
		{Method: http.MethodGet, Path: "/api/me", Name: "me", Handler: wings.Me, Auth: auth.LoginOnly},
		{Method: http.MethodGet, Path: "/api/video/:id", Name: "video_detail", Handler: c.Video.Get,
			// Public data: one entry per id for every callback and timestamp.
			Cache: &wings.CacheOptions{TTL: 10 * time.Second, Grace: 20 * time.Second, StaleIfError: 5 * time.Minute}},
	}
}

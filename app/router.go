package app

import (
	"net/http"

	"github.com/wings-bff/wings/framework/wings"
)

// Routes is the route table, like the seed's app/router.js.
func Routes(c *Container) []wings.Route {
	return []wings.Route{
		{Method: http.MethodGet, Path: "/api/video/:id", Name: "video_detail", Handler: c.Video.Get},
	}
}

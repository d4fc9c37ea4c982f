package app

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/auth"
	"github.com/wings-bff/wings/framework/wings"
)

// BatchPath is the merge endpoint's path.
const BatchPath = "/api/batch"

// The teams answerable for the routes: the owner label of their metrics
// and alerts (conf/alertmanager/alertmanager.yml routes each team to its
// receiver).
const (
	teamVideo, contactVideo = "video", "video-team@wings.example"
	teamData, contactData   = "data", "data-team@wings.example"
	teamWeb, contactWeb     = "web", "web-team@wings.example"
)

// Routes is the route table, like the seed's app/router.js.
func Routes(c *Container) []wings.Route {
	ownerVideo := wings.Owner{Team: teamVideo, Contact: contactVideo}
	ownerWeb := wings.Owner{Team: teamWeb, Contact: contactWeb}
	return append([]wings.Route{
		// Who am I: any logged-in user; the front end shows the name and
		// offers the business lines listed.
		{Method: http.MethodGet, Path: "/api/me", Name: "me", Handler: c.Me.Get, Auth: auth.LoginOnly, Owner: ownerWeb},
		// The merge endpoint (framework/batch): the home screen's parts in
		// one request, each part through its own route's chain.
		{Method: http.MethodGet, Path: BatchPath, Name: "batch", Handler: c.Batch.Serve, Timeout: 5 * time.Second, Query: []string{"part"}, Owner: ownerWeb},
		// Public data: reads no query parameter, so one entry per id whatever
		// the query carries (callbacks, timestamps, tracking tags).
		{Method: http.MethodGet, Path: "/api/video/:id", Name: "video_detail", Handler: c.Video.Get, Query: nil, Owner: ownerVideo,
			Cache: &wings.CacheOptions{TTL: 10 * time.Second, Grace: 20 * time.Second, StaleIfError: 5 * time.Minute}},
	}, append(dashRoutes(c), webRoutes(c)...)...)
}

// webRoutes serve the front end: the dashboards page (a browser without a
// session is sent to the SSO login) and its fingerprinted assets.
func webRoutes(c *Container) []wings.Route {
	ownerWeb := wings.Owner{Team: teamWeb, Contact: contactWeb}
	return []wings.Route{
		{Method: http.MethodGet, Path: "/", Name: "web_dashboards", Handler: c.Web.Dashboards, Auth: auth.LoginOnly, Page: true, Owner: ownerWeb},
		{Method: http.MethodGet, Path: "/assets/*", Name: "web_assets", Handler: c.Web.Asset, Owner: ownerWeb},
	}
}

// dashRoutes is the analytics dashboards' group under /api/dash/:biz.
// Settings shared by the whole group (auth on bizline:{biz}, deadlines)
// go in group, once; each route declares the query parameters it reads.
func dashRoutes(c *Container) []wings.Route {
	ownerData := wings.Owner{Team: teamData, Contact: contactData}
	group := func(path, name string, h echo.HandlerFunc, query ...string) wings.Route {
		return wings.Route{Method: http.MethodGet, Path: "/api/dash/:biz" + path, Name: name, Handler: h,
			Timeout: 5 * time.Second, Auth: "bizline:{biz}", Query: query, Owner: ownerData}
	}
	return []wings.Route{
		group("/realtime", "dash_realtime", c.Dash.Realtime, "event"),
		group("/ranking", "dash_ranking", c.Dash.Ranking, "limit", "date", "event"),
		group("/funnel", "dash_funnel", c.Dash.Funnel, "date", "steps", "window"),
		group("/analysis", "dash_analysis", c.Dash.Analysis,
			"granularity", "from", "to", "metrics", "event", "platform", "region"),
	}
}

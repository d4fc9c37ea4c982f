// Package app is the example Wings application: the video BFF.
package app

import (
	"github.com/wings-bff/wings/app/controller"
	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/service"
	"github.com/wings-bff/wings/app/web"
	"github.com/wings-bff/wings/framework/batch"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// Config is the application's configuration: the framework's sections plus
// the app's own.
type Config struct {
	config.Config `mapstructure:",squash"`
	// Analytics configures the dashboards (app/analytics.go).
	Analytics Analytics `mapstructure:"analytics"`
}

// Container holds the application's long-lived objects.
type Container struct {
	Video *controller.VideoController
	// Dash serves the analytics dashboards (app/analytics.go).
	Dash *controller.DashController
	// Cache is the response and data cache; services use its GetOrLoad.
	Cache *cache.Cache
	// Me answers who the caller is and which lines they may see.
	Me *controller.MeController
	// Web serves the front end (app/web).
	Web *web.Pages
	// Batch is the merge endpoint: several routes in one request.
	Batch *batch.Endpoint
}

// NewContainer wires daos, services and controllers from the runtime. It is
// the only wiring code in the app.
func NewContainer(rt *wings.Runtime, opts ...Option) (*Container, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.analytics == nil {
		a := DefaultAnalytics()
		o.analytics = &a
	}

	video, err := rt.Upstream("video")
	if err != nil {
		return nil, err
	}
	album, err := rt.Upstream("album")
	if err != nil {
		return nil, err
	}
	star, err := rt.Upstream("star")
	if err != nil {
		return nil, err
	}
	// The Runtime builds the cache (wings.Options.ResponseCache); a
	// Runtime built without one gets it here.
	rc := cache.Of(rt)
	if rc == nil {
		var err error
		if rc, err = cache.New(rt); err != nil {
			return nil, err
		}
	}
	dash, err := newDash(rt, *o.analytics, rc)
	if err != nil {
		return nil, err
	}
	pages, err := web.New()
	if err != nil {
		return nil, err
	}
	videos := service.NewVideoService(dao.NewVideoDAO(video), dao.NewAlbumDAO(album), dao.NewStarDAO(star))
	return &Container{
		Video: controller.NewVideoController(videos),
		Dash:  dash,
		Cache: rc,
		Batch: batch.New(rt, batch.Options{Self: BatchPath}),
		Web:   pages,
		Me:    controller.NewMeController(rt.Auth(), o.analytics.BusinessLines),
	}, nil
}

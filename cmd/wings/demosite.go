package main

import (
	"context"
	"fmt"
	"net/url"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/app/web"
)

func newDemoSiteCmd() *cobra.Command {
	var addr, api string
	cmd := &cobra.Command{
		Use:   "demo-site",
		Short: "Serve the demo PC site: a video page on its own origin that reads the BFF through JSONP",
		Long: `Serve the demo PC site (the seed's PC web site) on --addr: a static video
page, at / and /video.html?id=42, that calls --api's /api/video/:id with
jQuery's JSONP transport (a fresh callback and _=<timestamp> per request)
and shows the video, its album and its stars, or a degraded stars block
when the stars team is down. The page is embedded in the binary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := url.Parse(api)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("--api: must be the BFF's origin like http://127.0.0.1:8080, got %q", api)
			}
			pages, err := web.New()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serveFake(ctx, "demo-site", addr, pages.DemoSite(u.Scheme+"://"+u.Host), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "listen address")
	cmd.Flags().StringVar(&api, "api", "http://127.0.0.1:8080", "origin of the Wings server the page calls")
	return cmd
}

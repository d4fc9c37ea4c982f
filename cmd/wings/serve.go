package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

func newServeCmd() *cobra.Command {
	var confDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the BFF server",
		Long: `Run the BFF server. Configuration comes from <conf>/config.default.yaml,
overlaid by <conf>/config.$WINGS_ENV.yaml (local by default), overlaid by
WINGS_* environment variables (server.addr is WINGS_SERVER__ADDR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serve(ctx, confDir)
		},
	}
	cmd.Flags().StringVar(&confDir, "conf", "conf", "config directory")
	return cmd
}

func loadConfig(confDir string) (*app.Config, *config.Result, error) {
	var cfg app.Config
	res, err := config.Load(config.Options{Dir: confDir}, &cfg)
	if err != nil {
		return nil, nil, err
	}
	return &cfg, res, nil
}

func serve(ctx context.Context, confDir string) error {
	cfg, res, err := loadConfig(confDir)
	if err != nil {
		return err
	}
	cfg, res, etcdSrc, etcdWarning, err := withEtcd(ctx, confDir, cfg, res)
	if err != nil {
		return err
	}
	rt, err := wings.New(&cfg.Config, wings.Options{Build: build(), LogOutput: os.Stdout, ResponseCache: cache.Install})
	if err != nil {
		return err
	}
	log := rt.Logger()
	log.WithFields(map[string]any{"env": res.Env, "files": res.Files, "env_keys": res.EnvKeys}).Info("config loaded")
	for _, w := range res.Warnings {
		log.Warn("config: " + w)
	}
	if etcdWarning != "" {
		log.Warn(etcdWarning)
	}
	watchConfig(rt, confDir, res.Env, etcdSrc)
	c, err := app.NewContainer(rt, app.WithAnalytics(cfg.Analytics))
	if err != nil {
		return err
	}
	rt.Handle(app.Routes(c)...)
	if res.Env == "test" {
		rt.Handle(testRoutes()...)
	}
	return rt.Run(ctx)
}

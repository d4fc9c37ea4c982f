package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/cache"
	"github.com/wings-bff/wings/framework/wings"
)

func newServeCmd[C any, P Config[C]](a App[C]) *cobra.Command {
	var confDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the BFF server",
		Long: `Run the BFF server. Configuration comes from <conf>/config.default.yaml,
overlaid by <conf>/config.$WINGS_ENV.yaml (local by default), overlaid by
WINGS_* environment variables (server.addr is WINGS_SERVER__ADDR).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serve[C, P](ctx, a, confDir)
		},
	}
	confFlag(cmd, &confDir)
	return cmd
}

// serve loads the config (with the etcd overlay), builds the Runtime and
// the application, watches the config for hot reloads and runs until ctx
// ends.
func serve[C any, P Config[C]](ctx context.Context, a App[C], confDir string) error {
	cfg, res, err := LoadConfig[C](confDir)
	if err != nil {
		return err
	}
	cfg, res, etcdSrc, etcdWarning, err := withEtcd[C, P](ctx, confDir, cfg, res)
	if err != nil {
		return err
	}
	opts := a.Runtime
	opts.Build = a.Build
	if opts.LogOutput == nil {
		opts.LogOutput = os.Stdout
	}
	if opts.ResponseCache == nil {
		opts.ResponseCache = cache.Install
	}
	rt, err := wings.New(P(cfg).Base(), opts)
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
	watchConfig[C, P](rt, confDir, res.Env, etcdSrc)
	routes, err := a.Serve(rt, cfg)
	if err != nil {
		return err
	}
	rt.Handle(routes...)
	if res.Env == "test" && a.TestRoutes != nil {
		rt.Handle(a.TestRoutes()...)
	}
	return rt.Run(ctx)
}

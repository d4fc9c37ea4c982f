// Command wings is the Wings binary: the example app's server and project
// commands (framework/cli), the mock upstream teams and the developer tools,
// as subcommands.
package main

import (
	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/cli"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.buildTime=...".
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = "unknown"
)

func main() {
	cli.Main(newRoot())
}

func newRoot() *cobra.Command {
	root := cli.New(cli.App[app.Config]{
		Name:  "wings",
		Short: "Wings: a framework for the BFF middle tier",
		Build: wings.BuildInfo{Version: version, Commit: commit, BuildTime: buildTime},
		Serve: func(rt *wings.Runtime, cfg *app.Config) ([]wings.Route, error) {
			c, err := app.NewContainer(rt, app.WithAnalytics(cfg.Analytics))
			if err != nil {
				return nil, err
			}
			return app.Routes(c), nil
		},
		// Method values on nil controllers are fine: only names are read.
		Routes:     func(*app.Config) []wings.Route { return app.Routes(&app.Container{}) },
		TestRoutes: testRoutes,
		Migrations: func(cfg *app.Config) ([]chclient.Migration, error) {
			return dao.Migrations(cfg.Analytics.Timezone)
		},
	})
	root.AddCommand(newMockUpstreamCmd(), newMockSSOCmd(), newDemoSiteCmd())
	root.AddCommand(newSeedEventsCmd(), newIngestSimCmd(), newNewCmd())
	return root
}

// loadConfig loads the example app's configuration from confDir.
func loadConfig(confDir string) (*app.Config, *config.Result, error) {
	return cli.LoadConfig[app.Config](confDir)
}

// Package cli gives a project's own main the commands every Wings project
// needs, wired to its application: serve, routes, version, cache purge, gen
// and (with a ClickHouse schema) migrate.
//
// A project's main is a few lines:
//
//	func main() {
//		root := cli.New(cli.App[app.Config]{
//			Name:  "shop",
//			Build: wings.BuildInfo{Version: version},
//			Serve: func(rt *wings.Runtime, cfg *app.Config) ([]wings.Route, error) {
//				c, err := app.NewContainer(rt)
//				if err != nil {
//					return nil, err
//				}
//				return app.Routes(c), nil
//			},
//			Routes: func(*app.Config) []wings.Route { return app.Routes(&app.Container{}) },
//		})
//		root.AddCommand(myTool()) // the project's own commands
//		cli.Main(root)
//	}
//
// The config type C is the application's: a struct that embeds the
// framework's config.Config (`mapstructure:",squash"`) beside the app's own
// sections, or config.Config itself.
package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/chclient"
	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/wings"
)

// Config is the constraint on *C: the application's config type embeds the
// framework's config.Config, whose Base method is promoted to it.
type Config[C any] interface {
	*C
	Base() *config.Config
}

// App describes a project's application to the commands.
type App[C any] struct {
	// Name is the binary's name: the root command's and the first word of
	// the version line ("<name> <version> (commit ..., built ...)").
	Name string
	// Short is the root command's one-line help.
	Short string
	// Build is the version, commit and build time (set with -ldflags).
	Build wings.BuildInfo
	// Serve builds the application on rt (its container) and returns its
	// route table. Required.
	Serve func(rt *wings.Runtime, cfg *C) ([]wings.Route, error)
	// Routes returns the route table for the routes command, built without
	// a Runtime or any connection: only the routes' declarations are read
	// (method values on zero-value controllers are fine). Required.
	Routes func(cfg *C) []wings.Route
	// TestRoutes, when set, are served as well when the environment is
	// "test": hooks for integration tests.
	TestRoutes func() []wings.Route
	// Migrations, when set, adds the migrate command, which applies them to
	// clickhouse.* (a project without ClickHouse leaves it nil).
	Migrations func(cfg *C) ([]chclient.Migration, error)
	// Runtime holds the Runtime's other options for serve. Build is set
	// from App.Build; LogOutput defaults to os.Stdout and ResponseCache to
	// cache.Install.
	Runtime wings.Options
}

// New returns the root command with the project commands wired to a. The
// caller may add its own commands before executing it.
func New[C any, P Config[C]](a App[C]) *cobra.Command {
	if a.Serve == nil || a.Routes == nil {
		panic("cli.New: App.Serve and App.Routes are required")
	}
	short := a.Short
	if short == "" {
		short = a.Name + ": a BFF on the Wings framework"
	}
	root := &cobra.Command{
		Use:           a.Name,
		Short:         short,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd[C, P](a), newVersionCmd(a.Name, a.Build), newCacheCmd[C, P]())
	if a.Migrations != nil {
		root.AddCommand(newMigrateCmd[C, P](a.Migrations))
	}
	root.AddCommand(newGenCmd(a.Name), newRoutesCmd[C, P](a.Routes))
	return root
}

// Main executes root and exits with status 1, printing the error prefixed
// with the root command's name, when it fails.
func Main(root *cobra.Command) {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, root.Name()+":", err)
		os.Exit(1)
	}
}

// LoadConfig loads the configuration of type C from dir: dir's
// config.default.yaml, then config.$WINGS_ENV.yaml, then WINGS_* variables.
func LoadConfig[C any](dir string) (*C, *config.Result, error) {
	return loadOverlay[C](dir, nil, "")
}

// loadOverlay loads as LoadConfig does, with ov (from etcd; may be nil)
// between the files and the environment.
func loadOverlay[C any](dir string, ov map[string]any, name string) (*C, *config.Result, error) {
	cfg := new(C)
	res, err := config.Load(config.Options{Dir: dir, Overlay: ov, OverlayName: name}, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, res, nil
}

func newVersionCmd(name string, b wings.BuildInfo) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and build time",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s (commit %s, built %s)\n", name, b.Version, b.Commit, b.BuildTime)
		},
	}
}

// confFlag adds the --conf flag every command that reads config has.
func confFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "conf", "conf", "config directory")
}

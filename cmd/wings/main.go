// Command wings is the Wings binary: the server, the mock upstream teams and
// the developer tools, as subcommands.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/wings"
)

// Set with -ldflags "-X main.version=... -X main.commit=... -X main.buildTime=...".
var (
	version   = "dev"
	commit    = "unknown"
	buildTime = "unknown"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wings:", err)
		os.Exit(1)
	}
}

func build() wings.BuildInfo {
	return wings.BuildInfo{Version: version, Commit: commit, BuildTime: buildTime}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "wings",
		Short:         "Wings: a framework for the BFF middle tier",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newMockUpstreamCmd(), newVersionCmd())
	root.AddCommand(newMockSSOCmd(), newDemoSiteCmd())
	root.AddCommand(newCacheCmd())
	root.AddCommand(newMigrateCmd(), newSeedEventsCmd(), newIngestSimCmd())
	root.AddCommand(newGenCmd(), newRoutesCmd(), newNewCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and build time",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			b := build()
			fmt.Fprintf(cmd.OutOrStdout(), "wings %s (commit %s, built %s)\n", b.Version, b.Commit, b.BuildTime)
		},
	}
}

package cli

import (
	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/wings"
)

func newRoutesCmd[C any, P Config[C]](routes func(*C) []wings.Route) *cobra.Command {
	var confDir string
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Print the route table: method, path, name, handler, timeout, cache TTL, auth",
		Long: `Print the route table of app/router.go as the server would run it: the
effective timeout and cache TTL come from config (conf/, WINGS_ENV and
WINGS_* variables, as for serve). Nothing is started and no upstream,
Redis or ClickHouse is contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := LoadConfig[C](confDir)
			if err != nil {
				return err
			}
			return wings.WriteRouteTable(cmd.OutOrStdout(), wings.DescribeRoutes(P(cfg).Base(), routes(cfg)))
		},
	}
	confFlag(cmd, &confDir)
	return cmd
}

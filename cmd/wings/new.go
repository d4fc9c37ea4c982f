package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/scaffold"
)

func newNewCmd() *cobra.Command {
	var module, framework string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "new <dir> --module <path>",
		Short: "Create a new project on the framework, with one example endpoint",
		Long: `Create a new project in <dir> (new or empty): go.mod, Makefile, conf/,
cmd/server (the project's own binary: serve, routes, version, cache purge
and gen, from framework/cli), app/ with the same layout as this repository,
and one example endpoint, GET /api/item/:id over the item upstream, with its
test. make test (go vet and go test ./...) passes at once.

The framework module is not published, so go.mod replaces it with a local
checkout: the one wings is run from (found by walking up from the current
directory), or --framework. go.sum and the requirements are the
framework's, so the project builds offline from the module cache.`,
		Example: "  wings new ../shop-bff --module example.com/shop/bff",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if module == "" {
				return fmt.Errorf("--module: the new project's module path is required (example.com/team/bff)")
			}
			if framework == "" {
				var err error
				if framework, err = scaffold.FindFramework("."); err != nil {
					return err
				}
			}
			plan, err := scaffold.PlanNew(scaffold.NewProject{Dir: args[0], Module: module, FrameworkDir: framework})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !dryRun {
				if err := plan.Apply(); err != nil {
					return err
				}
			}
			plan.Report(w, dryRun)
			if !dryRun {
				fmt.Fprintf(w, "\nnext: cd %s && make test\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "module path of the new project")
	cmd.Flags().StringVar(&framework, "framework", "", "local checkout of the framework that go.mod replaces it with (default: the one around the current directory)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the files and write nothing")
	return cmd
}

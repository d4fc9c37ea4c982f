package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/scaffold"
)

// genFlags are the flags every gen subcommand shares.
type genFlags struct {
	dir           string
	dryRun, force bool
	ep            scaffold.Endpoint
}

func newGenCmd(name string) *cobra.Command {
	gf := &genFlags{}
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate an endpoint's layers, or one layer, in the project",
		Long: `Generate code that looks hand-written and is yours from the start (no banner).
Names: user_profile, userProfile and UserProfile all give files user_profile.go
and types UserProfileController, UserProfileService, UserProfileDAO,
UserProfileFormatter and model.UserProfile. Existing files are never
overwritten without --force; --dry-run prints the files and the diff instead
of writing. Running the same command twice changes nothing and says so.`,
	}
	cmd.PersistentFlags().StringVar(&gf.dir, "dir", ".", "project directory (or any directory under it)")
	cmd.PersistentFlags().BoolVar(&gf.dryRun, "dry-run", false, "print what would be written, with the diff, and write nothing")
	cmd.PersistentFlags().BoolVar(&gf.force, "force", false, "overwrite files that exist and differ")

	endpoint := &cobra.Command{
		Use:   "endpoint <name>",
		Short: "Add an endpoint: controller, service, dao, model, formatter, a test, its route and its wiring",
		Long: `Add an endpoint: app/controller/<name>.go (+ <name>_test.go, which serves a
fake upstream with httptest and checks the endpoint's JSON), app/service,
app/dao, app/model and app/formatter/<name>.go; the route in app/router.go;
the wiring in app/app.go (NewContainer); and upstreams.<upstream> in
conf/config.default.yaml when that upstream is new.

Without --upstream there is no dao and no formatter: the service answers a
model made from the request, ready for you to give it a source.`,
		Example: "  " + name + " gen endpoint order --upstream order --upstream-path /order/info/{id} --cache 30s\n" +
			"  " + name + " gen endpoint biz_report --path /api/report/:biz/:id --private 'bizline:{biz}'",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := gf.prepare(args[0])
			if err != nil {
				return err
			}
			plan, err := scaffold.PlanEndpoint(p, &gf.ep, gf.force)
			if err != nil {
				return err
			}
			return gf.finish(cmd.OutOrStdout(), plan)
		},
	}
	addEndpointFlags(endpoint, &gf.ep, true)
	cmd.AddCommand(endpoint)

	for _, l := range []scaffold.Layer{scaffold.LayerDAO, scaffold.LayerFormatter, scaffold.LayerModel, scaffold.LayerService} {
		layer := l
		sub := &cobra.Command{
			Use:   string(layer) + " <name>",
			Short: "Add app/" + string(layer) + "/<name>.go alone (nothing is registered)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := gf.prepare(args[0])
				if err != nil {
					return err
				}
				plan, err := scaffold.PlanLayer(p, &gf.ep, layer, gf.force)
				if err != nil {
					return err
				}
				return gf.finish(cmd.OutOrStdout(), plan)
			},
		}
		addEndpointFlags(sub, &gf.ep, false)
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newGenUpstreamModelCmd(name, gf))
	return cmd
}

func addEndpointFlags(cmd *cobra.Command, ep *scaffold.Endpoint, route bool) {
	cmd.Flags().StringVar(&ep.Method, "method", "GET", "HTTP method: GET, POST, PUT, PATCH or DELETE (the handler is Get, Create, Update or Delete)")
	cmd.Flags().StringVar(&ep.Path, "path", "", "route template (default /api/<name>/:id); :id is parsed as a positive integer")
	cmd.Flags().StringVar(&ep.Upstream, "upstream", "", "upstream the dao calls (a key under upstreams in config)")
	cmd.Flags().StringVar(&ep.UpstreamPath, "upstream-path", "", "upstream path; {id} is replaced by the id (default /<name>/{id})")
	if route {
		cmd.Flags().DurationVar(&ep.Cache, "cache", 0, "response cache TTL of the route (e.g. 30s); 0: no cache")
		cmd.Flags().StringVar(&ep.Auth, "private", "", "resource the route requires, a template over path parameters (bizline:{biz})")
		cmd.Flags().StringVar(&ep.Owner, "owner", "", "team answerable for the route and its contact, team:contact (video:video-team@example.com)")
	}
}

// prepare finds the project and parses the name.
func (gf *genFlags) prepare(name string) (scaffold.Project, error) {
	n, err := scaffold.ParseName(name)
	if err != nil {
		return scaffold.Project{}, err
	}
	gf.ep.Name = n
	return scaffold.FindProject(gf.dir)
}

// finish writes the plan (or, with --dry-run, prints it) and reports.
func (gf *genFlags) finish(w io.Writer, plan *scaffold.Plan) error {
	if !gf.dryRun {
		if err := plan.Apply(); err != nil {
			return err
		}
	}
	plan.Report(w, gf.dryRun)
	if gf.dryRun {
		fmt.Fprintln(w, "\n(dry run: nothing was written)")
	}
	return nil
}

func newGenUpstreamModelCmd(name string, gf *genFlags) *cobra.Command {
	var from, root string
	cmd := &cobra.Command{
		Use:   "upstream-model <name> --from sample.json",
		Short: "From a sample upstream answer, write the model, a formatter mapping it and a test",
		Long: `From a sample upstream answer, write app/model/<name>.go (one field per
leaf of the sampled object, nested objects flattened: cover.url becomes
CoverURL, json "coverUrl"), app/formatter/<name>.go (the upstream's schema as
a Go struct with json tags, and the mapping.Fields from model to upstream
path) and app/formatter/<name>_test.go, which maps the sample and checks
every field. With --root auto (the default) an envelope's data or result
object is the one mapped. Nulls and arrays of objects are listed, not mapped.`,
		Example: "  " + name + " gen upstream-model album --from testdata/album_ok.json --root result",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := gf.prepare(args[0])
			if err != nil {
				return err
			}
			if from == "" {
				return errors.New("--from: a sample JSON file is required")
			}
			f, err := os.Open(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			defer f.Close()
			um, err := scaffold.GenUpstreamModel(p.Module, gf.ep.Name, f, root)
			if err != nil {
				return err
			}
			plan := &scaffold.Plan{Project: p}
			stem := gf.ep.Name.Stem
			for _, c := range []struct {
				path string
				src  []byte
			}{{"app/model/" + stem + ".go", um.Model}, {"app/formatter/" + stem + ".go", um.Formatter}, {"app/formatter/" + stem + "_test.go", um.Test}} {
				if err := plan.Create(c.path, c.src, gf.force); err != nil {
					return err
				}
			}
			if err := plan.CheckDecls(); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if um.Root != "" {
				fmt.Fprintf(w, "mapped the sample's %q object\n", um.Root)
			}
			for _, s := range um.Skipped {
				fmt.Fprintf(w, "not mapped (null, empty or holding objects; map it by hand): %s\n", s)
			}
			return gf.finish(w, plan)
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "sample upstream answer (a JSON file)")
	cmd.Flags().StringVar(&root, "root", "auto", `dotted path of the object to map; "" for the whole answer`)
	return cmd
}

package scaffold

import (
	"errors"
	"os"
	"path/filepath"
)

// ConfigFile is where a new upstream's config is added.
const ConfigFile = "conf/config.default.yaml"

// PlanEndpoint plans every file of e in the project: the layers, the route
// in app/router.go, the wiring in app/app.go and, for an upstream that is
// new, its config.
func PlanEndpoint(p Project, e *Endpoint, force bool) (*Plan, error) {
	if err := e.Normalize(); err != nil {
		return nil, err
	}
	plan := &Plan{Project: p}
	for _, l := range e.Layers() {
		src, err := e.Render(p.Module, l)
		if err != nil {
			return nil, err
		}
		if err := plan.Create(e.LayerPath(l), src, force); err != nil {
			return nil, err
		}
	}
	if err := plan.CheckDecls(); err != nil {
		return nil, err
	}
	if e.Upstream != "" {
		if _, err := os.Stat(filepath.Join(p.Dir, ConfigFile)); err == nil {
			err := plan.Edit(ConfigFile, func(old []byte) ([]byte, bool, error) { return AddUpstream(old, e.Upstream) },
				"upstreams."+e.Upstream+" added", "upstreams."+e.Upstream+" is already configured")
			if err != nil {
				return nil, err
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	err := plan.Edit("app/router.go", func(old []byte) ([]byte, bool, error) { return RegisterRoute(old, e) },
		"route "+e.RouteName()+" added", "route "+e.RouteName()+" is already registered")
	if err != nil {
		return nil, err
	}
	err = plan.Edit("app/app.go", func(old []byte) ([]byte, bool, error) { return WireContainer(old, p.Module, e) },
		"Container."+e.Name.Exported+" wired", "Container."+e.Name.Exported+" is already wired")
	if err != nil {
		return nil, err
	}
	return plan, nil
}

// PlanLayer plans one layer of e alone (wings gen dao|formatter|model|service):
// no registration, no config. The layers refer to their neighbours by the
// same naming rule (a service to formatter.<Name>Formatter and
// model.<Name>), so generate those too, or edit the references.
func PlanLayer(p Project, e *Endpoint, l Layer, force bool) (*Plan, error) {
	if err := e.Normalize(); err != nil {
		return nil, err
	}
	if (l == LayerDAO || l == LayerFormatter) && e.Upstream == "" {
		e.Upstream = e.Name.Stem
		e.UpstreamPath = ""
		if err := e.Normalize(); err != nil {
			return nil, err
		}
	}
	plan := &Plan{Project: p}
	src, err := e.Render(p.Module, l)
	if err != nil {
		return nil, err
	}
	if err := plan.Create(e.LayerPath(l), src, force); err != nil {
		return nil, err
	}
	return plan, plan.CheckDecls()
}

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wings-bff/wings/framework/config"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/wings"
)

// withEtcd overlays the etcd config centre when etcd.endpoints is set. It
// returns the config to start with and the source to watch. An unreachable
// etcd is a warning (the server starts from the files and applies etcd's
// changes once it can watch them) unless etcd.required; an invalid config
// in etcd refuses the start.
func withEtcd[C any, P Config[C]](ctx context.Context, confDir string, cfg *C, res *config.Result) (*C, *config.Result, *config.EtcdSource, string, error) {
	e := P(cfg).Base().Etcd
	if len(e.Endpoints) == 0 {
		return cfg, res, nil, "", nil
	}
	src, err := config.NewEtcdSource(config.EtcdOptions{
		Endpoints: e.Endpoints, Prefixes: e.Prefixes, DialTimeout: e.DialTimeout,
		Username: e.Username, Password: e.Password, TLS: e.TLS,
	})
	if err != nil {
		return nil, nil, nil, "", err
	}
	ov, err := src.Overlay(ctx)
	if err != nil {
		if e.Required {
			_ = src.Close()
			return nil, nil, nil, "", fmt.Errorf("etcd.required: %w", err)
		}
		return cfg, res, src, "etcd unreachable at start; starting from the files: " + err.Error(), nil
	}
	next, nres, err := loadOverlay[C](confDir, ov, src.Name())
	if err != nil {
		_ = src.Close()
		return nil, nil, nil, "", err
	}
	return next, nres, src, "", nil
}

// watchConfig hot-reloads the configuration while the server runs: on every
// change in etcd (when src is set) and whenever a config file's mtime
// changes (checked every 2s). A config that fails to load or validate is
// rejected with a log line and the one in force stays.
func watchConfig[C any, P Config[C]](rt *wings.Runtime, confDir, env string, src *config.EtcdSource) {
	ctx := rt.Context()
	r := wings.NewReloader(rt)
	var mu sync.Mutex
	var overlay map[string]any // last good etcd overlay
	name := ""
	if src != nil {
		name = src.Name()
		if ov, err := src.Overlay(ctx); err == nil {
			overlay = ov
		}
	}
	// reload loads with ov and applies it; it reports whether ov was good.
	// A panic while loading or applying is a rejected reload, not the end
	// of the process: it runs on a watcher goroutine.
	reload := func(source string, ov map[string]any) bool {
		err := recovery.Do(func() error {
			next, _, err := loadOverlay[C](confDir, ov, name)
			if err != nil {
				return err
			}
			r.Apply(source, P(next).Base())
			return nil
		})
		if err != nil {
			rt.Panics().Report(ctx, "reload", err)
			r.Reject(source, err)
			return false
		}
		return true
	}
	if src != nil {
		rt.OnStop(func(context.Context) error { return src.Close() })
		rt.Panics().Go(ctx, "reload", func() {
			src.Watch(ctx, func(ov map[string]any, err error) {
				if err != nil {
					r.Reject("etcd", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if reload("etcd", ov) {
					overlay = ov
				}
			})
		})
	}
	files := []string{filepath.Join(confDir, "config.default.yaml"), filepath.Join(confDir, "config."+env+".yaml")}
	rt.Panics().Go(ctx, "reload", func() {
		last := mtimes(files)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if now := mtimes(files); now != last {
				last = now
				mu.Lock()
				reload("file", overlay)
				mu.Unlock()
			}
		}
	})
}

func mtimes(files []string) string {
	s := ""
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%s:%d:%d;", f, fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

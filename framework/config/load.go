// Package config loads Wings configuration.
//
// Sources, later ones winning:
//
//  1. conf/config.default.yaml
//  2. conf/config.<env>.yaml, env from WINGS_ENV (local, test, stage, prod;
//     default local)
//  3. environment variables: WINGS_ + the key path upper-cased, segments
//     joined by a double underscore (server.addr is WINGS_SERVER__ADDR).
//
// The merged tree is decoded strictly with mapstructure into the caller's
// struct (unknown keys in files are errors), and Validate is called on the
// result when the struct has one. Fields of type [Secret] may only come from
// the environment.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment override.
const EnvPrefix = "WINGS_"

// EnvVar names the variable that selects the environment.
const EnvVar = "WINGS_ENV"

// Environments lists the accepted values of WINGS_ENV.
var Environments = []string{"local", "test", "stage", "prod"}

// Options say where to load from.
type Options struct {
	// Dir holds config.default.yaml and config.<env>.yaml. Default "conf".
	Dir string
	// Env overrides WINGS_ENV when set.
	Env string
	// Environ is the process environment as KEY=VALUE pairs; nil means
	// os.Environ().
	Environ []string
	// Overlay, when set, is merged over the files and under the
	// environment (for example EtcdSource.Overlay); OverlayName names it in
	// Result.Files.
	Overlay     map[string]any
	OverlayName string
}

// Result describes what Load read, for the start-up log.
type Result struct {
	Env   string
	Files []string
	// EnvKeys are the key paths overridden from the environment (values are
	// not kept: they may be secrets).
	EnvKeys []string
	// Warnings are WINGS_ variables that match no key.
	Warnings []string
}

// Validator is implemented by config structs that check themselves.
type Validator interface{ Validate() error }

// envNamer is implemented by structs embedding Config: Load tells them
// whether WINGS_ENV named the environment, before validating.
type envNamer interface{ setEnvNamed(named bool) }

// Load reads the configuration into out, a pointer to a struct.
func Load(opts Options, out any) (*Result, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	dir := opts.Dir
	if dir == "" {
		dir = "conf"
	}
	env := opts.Env
	if env == "" {
		env = lookup(environ, EnvVar)
	}
	named := env != ""
	if env == "" {
		env = "local"
	}
	if !contains(Environments, env) {
		return nil, fmt.Errorf("%s=%q: must be one of %s", EnvVar, env, strings.Join(Environments, ", "))
	}
	res := &Result{Env: env}

	tree := map[string]any{}
	for i, name := range []string{"config.default.yaml", "config." + env + ".yaml"} {
		path := filepath.Join(dir, name)
		m, err := readYAML(path)
		if errors.Is(err, os.ErrNotExist) && i > 0 {
			continue // an environment file is optional
		}
		if err != nil {
			return nil, err
		}
		merge(tree, m)
		res.Files = append(res.Files, path)
	}
	if opts.Overlay != nil {
		merge(tree, opts.Overlay)
		res.Files = append(res.Files, opts.OverlayName)
	}

	secrets := secretPaths(reflect.TypeOf(out))
	for _, p := range flatten(tree, "") {
		for _, s := range secrets {
			if matchPath(s, p) {
				return nil, fmt.Errorf("%s: secrets may only come from the environment (%s)", p, EnvName(p))
			}
		}
	}

	fromEnv := map[string]bool{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) || k == EnvVar {
			continue
		}
		path := KeyPath(k)
		if path == "" {
			continue
		}
		if !fits(tree, strings.Split(path, ".")) {
			// WINGS_SERVER=x would replace a whole section, and
			// WINGS_SERVER__ADDR__X a value: neither names a key.
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s matches no config key", k))
			continue
		}
		setPath(tree, strings.Split(path, "."), v)
		fromEnv[path] = true
		res.EnvKeys = append(res.EnvKeys, path)
	}
	sort.Strings(res.EnvKeys)
	tree["env"] = env

	var md mapstructure.Metadata
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           out,
		Metadata:         &md,
		WeaklyTypedInput: true,
		TagName:          "mapstructure",
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		),
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(tree); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var unknown []string
	for _, u := range md.Unused {
		p := normalizeKey(u)
		if fromEnv[p] || underEnv(fromEnv, p) {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s matches no config key", EnvName(p)))
			continue
		}
		unknown = append(unknown, p+": unknown key")
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, errors.New(strings.Join(unknown, "; "))
	}
	for _, k := range md.Keys {
		if why, ok := inertKeys[normalizeKey(k)]; ok {
			res.Warnings = append(res.Warnings, normalizeKey(k)+" "+why)
		}
	}
	if n, ok := out.(envNamer); ok {
		n.setEnvNamed(named)
	}
	if v, ok := out.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	sort.Strings(res.Warnings)
	return res, nil
}

// inertKeys are keys still accepted, so that existing files load, that no
// longer do anything: setting one is a warning, with the reason.
var inertKeys = map[string]string{
	"cache.ignore_params": "has no effect: cache keys hold only the query parameters a route declares (Route.Query)",
}

// EnvName returns the environment variable that overrides a key path:
// "upstreams.video.base_url" is WINGS_UPSTREAMS__VIDEO__BASE_URL.
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

// KeyPath is the inverse of EnvName: WINGS_SERVER__ADDR is "server.addr".
// It returns "" for names without the prefix.
func KeyPath(name string) string {
	if !strings.HasPrefix(name, EnvPrefix) {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, EnvPrefix), "__", "."))
}

func readYAML(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// merge copies src into dst; nested maps merge, everything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
			cp := map[string]any{}
			merge(cp, sm)
			dst[k] = cp
			continue
		}
		dst[k] = v
	}
}

func setPath(m map[string]any, path []string, v any) {
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// fits reports whether a value can be set at path without replacing a
// section with a value or passing through a value. Null sections (a key
// whose entries are all commented out) take values.
func fits(m map[string]any, path []string) bool {
	for i, seg := range path {
		v, ok := m[seg]
		if !ok || v == nil {
			return true
		}
		sub, isMap := v.(map[string]any)
		if i == len(path)-1 {
			return !isMap
		}
		if !isMap {
			return false
		}
		m = sub
	}
	return true
}

// flatten lists the leaf key paths of a tree.
func flatten(m map[string]any, prefix string) []string {
	var out []string
	for k, v := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(sub, p)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// normalizeKey turns mapstructure's "upstreams[video].timout" into
// "upstreams.video.timout".
func normalizeKey(k string) string {
	k = strings.ReplaceAll(k, "[", ".")
	return strings.ReplaceAll(k, "]", "")
}

func underEnv(fromEnv map[string]bool, p string) bool {
	for k := range fromEnv {
		if strings.HasPrefix(k, p+".") || strings.HasPrefix(p, k+".") {
			return true
		}
	}
	return false
}

func lookup(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

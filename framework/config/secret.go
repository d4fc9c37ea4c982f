package config

import (
	"reflect"
	"strings"
)

// Secret is a string that never prints. Config fields of this type may only
// be set from the environment; Load rejects them in files.
type Secret string

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// GoString redacts the value for %#v.
func (s Secret) GoString() string { return `config.Secret("[REDACTED]")` }

// MarshalText redacts the value in JSON and YAML dumps.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

var secretType = reflect.TypeOf(Secret(""))

// secretPaths lists the key paths of Secret fields in t; map keys are "*".
func secretPaths(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string, depth int)
	walk = func(t reflect.Type, prefix string, depth int) {
		if depth > 8 {
			return
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == secretType { // a map or slice of secrets
			out = append(out, prefix)
			return
		}
		switch t.Kind() {
		case reflect.Map:
			walk(t.Elem(), join(prefix, "*"), depth+1)
		case reflect.Struct:
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
				if name == "-" {
					continue
				}
				p := prefix
				if !strings.Contains(opts, "squash") {
					if name == "" {
						name = strings.ToLower(f.Name)
					}
					p = join(prefix, name)
				}
				if f.Type == secretType {
					out = append(out, p)
					continue
				}
				walk(f.Type, p, depth+1)
			}
		}
	}
	walk(t, "", 0)
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// matchPath reports whether path matches pattern, where "*" matches one
// segment.
func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "."), strings.Split(path, ".")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if ps[i] != "*" && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

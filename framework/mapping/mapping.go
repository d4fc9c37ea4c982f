// Package mapping is the formatter base: it maps an upstream team's schema
// onto a shared model declaratively, the way the seed's formatter layer did,
// using mapstructure with decode hooks for the usual conversions.
//
//	var albumFormat = mapping.New[model.Album](mapping.Fields{
//		"id":       "album_id",
//		"title":    "album_title",
//		"episodes": "episode_total",
//		"cover":    "cover.url", // dotted paths reach into nested objects
//	})
//	album, err := albumFormat.Map(raw) // raw is the upstream's map[string]any
//
// Model fields are addressed by their `json` tag. Sources that are absent
// leave the field at its zero value; a value that cannot convert is an
// error naming the field.
package mapping

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Fields maps a model field (its json name) to a source path in the
// upstream object. Paths use dots for nesting.
type Fields map[string]string

// Mapper maps upstream objects onto T. It is safe for concurrent use; build
// one per upstream schema at start-up.
type Mapper[T any] struct {
	fields []field
	hook   mapstructure.DecodeHookFunc
}

// modelKeys lists T's json field names, so Map copies only what T can hold.
func modelKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys = append(keys, name)
	}
	return keys
}

type field struct {
	dst  string
	path []string
}

// New returns a mapper for the given field map. Model fields that are not
// listed are filled from the upstream key of the same name, if any; fields
// that name something T does not have are ignored.
func New[T any](fields Fields) *Mapper[T] {
	m := &Mapper[T]{hook: mapstructure.ComposeDecodeHookFunc(
		DurationToSeconds(),
		StringToNumber(),
		NumberToString(),
	)}
	for _, key := range modelKeys(reflect.TypeOf((*T)(nil)).Elem()) {
		src, ok := fields[key]
		if !ok {
			src = key // same name upstream
		}
		m.fields = append(m.fields, field{dst: key, path: strings.Split(src, ".")})
	}
	return m
}

// Map converts one upstream object.
func (m *Mapper[T]) Map(src map[string]any) (T, error) {
	var out T
	renamed := make(map[string]any, len(m.fields))
	for _, f := range m.fields {
		if v, ok := lookup(src, f.path); ok {
			renamed[f.dst] = v
		}
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:     &out,
		TagName:    "json",
		DecodeHook: m.hook,
		Squash:     true,
	})
	if err != nil {
		return out, err
	}
	if err := dec.Decode(renamed); err != nil {
		return out, fmt.Errorf("mapping %T: %w", out, err)
	}
	return out, nil
}

// MapSlice converts a list of upstream objects; items that are not objects
// are errors.
func (m *Mapper[T]) MapSlice(src []any) ([]T, error) {
	out := make([]T, 0, len(src))
	for i, item := range src {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("mapping item %d: not an object", i)
		}
		v, err := m.Map(obj)
		if err != nil {
			return nil, fmt.Errorf("mapping item %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, seg := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

var hmsRE = regexp.MustCompile(`^(?:(\d+):)?(\d{1,2}):(\d{2})$`)

// ParseHMS parses "HH:MM:SS" or "MM:SS" into seconds.
func ParseHMS(s string) (int64, bool) {
	m := hmsRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	var h int64
	if m[1] != "" {
		h, _ = strconv.ParseInt(m[1], 10, 64)
	}
	mi, _ := strconv.ParseInt(m[2], 10, 64)
	se, _ := strconv.ParseInt(m[3], 10, 64)
	if mi > 59 && m[1] != "" || se > 59 {
		return 0, false
	}
	return h*3600 + mi*60 + se, true
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// DurationToSeconds converts "00:42:10" into 2530 for integer fields.
func DurationToSeconds() mapstructure.DecodeHookFuncKind {
	return func(from, to reflect.Kind, data any) (any, error) {
		if from != reflect.String || !isInt(to) {
			return data, nil
		}
		if secs, ok := ParseHMS(reflect.ValueOf(data).String()); ok {
			return secs, nil
		}
		return data, nil
	}
}

// StringToNumber converts "123" into 123 (and "1.5" into 1.5) for numeric
// fields; other strings are left for mapstructure to reject.
func StringToNumber() mapstructure.DecodeHookFuncKind {
	return func(from, to reflect.Kind, data any) (any, error) {
		if from != reflect.String {
			return data, nil
		}
		s := strings.TrimSpace(reflect.ValueOf(data).String()) // string or json.Number
		switch {
		case isInt(to):
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
		case to == reflect.Float32 || to == reflect.Float64:
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return f, nil
			}
		}
		return data, nil
	}
}

// NumberToString converts JSON numbers into strings for string fields (ids
// that one team sends as numbers and another as strings).
func NumberToString() mapstructure.DecodeHookFuncKind {
	return func(from, to reflect.Kind, data any) (any, error) {
		if to != reflect.String {
			return data, nil
		}
		switch v := data.(type) {
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		case int64:
			return strconv.FormatInt(v, 10), nil
		case int:
			return strconv.Itoa(v), nil
		}
		return data, nil
	}
}

// Int reads an integer at path in src with the same conversions as Map
// ("123" and 123 both work). A missing or non-integer value is an error
// naming the path.
func Int(src map[string]any, path string) (int64, error) {
	v, ok := lookup(src, strings.Split(path, "."))
	if !ok {
		return 0, fmt.Errorf("mapping: %s: missing", path)
	}
	var out int64
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &out, DecodeHook: StringToNumber()})
	if err != nil {
		return 0, err
	}
	if err := dec.Decode(v); err != nil {
		return 0, fmt.Errorf("mapping: %s: %w", path, err)
	}
	return out, nil
}

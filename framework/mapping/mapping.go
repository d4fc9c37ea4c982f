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
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Fields maps a model field (its json name) to a source path in the
// upstream object. Paths use dots for nesting; "-" means the field is never
// read from this upstream (another source composes it).
type Fields map[string]string

// Mapper maps upstream objects onto T. It is safe for concurrent use; build
// one per upstream schema at start-up.
type Mapper[T any] struct {
	fields []field
	sel    selection    // source paths, for MapJSON
	direct []directNode // MapJSON's direct plan, or nil; see direct.go
	hook   mapstructure.DecodeHookFunc
}

// modelKey is one field T can hold: its json name, and where it is when T
// is a struct whose field can be set without mapstructure.
type modelKey struct {
	name  string
	index int          // field index in T; -1 when T is not a struct
	kind  reflect.Kind // the field's kind; Invalid when not fast-settable
}

// modelKeys lists T's json field names, so Map copies only what T can hold.
func modelKeys(t reflect.Type) []modelKey {
	direct := t.Kind() == reflect.Struct
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []modelKey
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		k := modelKey{name: name, index: -1}
		if direct && !f.Anonymous {
			k.index = i
			switch f.Type.Kind() {
			case reflect.String, reflect.Int, reflect.Int64:
				k.kind = f.Type.Kind()
			}
		}
		keys = append(keys, k)
	}
	return keys
}

type field struct {
	dst  string
	path []string
	// index and kind allow setting the field directly for the common
	// conversions; kind is Invalid when only mapstructure may set it.
	index int
	kind  reflect.Kind
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
		src, ok := fields[key.name]
		if !ok {
			src = key.name // same name upstream
		}
		if src == "-" {
			continue
		}
		m.fields = append(m.fields, field{dst: key.name, path: strings.Split(src, "."), index: key.index, kind: key.kind})
	}
	m.sel = selection{}
	for _, f := range m.fields {
		m.sel.add(f.path)
	}
	m.direct = buildDirect(m.fields)
	return m
}

// Map converts one upstream object. Strings and integers that need at most
// the usual conversions are set directly (the hot path: no mapstructure
// decoder, no intermediate map); every other value goes through
// mapstructure with the decode hooks, with the same result and errors.
func (m *Mapper[T]) Map(src map[string]any) (T, error) {
	var out T
	var renamed map[string]any
	var rv reflect.Value
	for _, f := range m.fields {
		v, ok := lookup(src, f.path)
		if !ok {
			continue
		}
		if f.kind != reflect.Invalid {
			if !rv.IsValid() {
				rv = reflect.ValueOf(&out).Elem()
			}
			if setFast(rv.Field(f.index), f.kind, v) {
				continue
			}
		}
		if renamed == nil {
			renamed = make(map[string]any, len(m.fields))
		}
		renamed[f.dst] = v
	}
	if renamed == nil {
		return out, nil
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

// setFast sets dst (of kind String, Int or Int64) from v exactly as
// mapstructure with the package's hooks would, and reports whether it
// could; on false dst is untouched and v needs mapstructure (which then
// also produces the error, if any).
func setFast(dst reflect.Value, kind reflect.Kind, v any) bool {
	if kind == reflect.String {
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case json.Number:
			dst.SetString(string(x))
		case float64:
			dst.SetString(strconv.FormatFloat(x, 'f', -1, 64))
		case int64:
			dst.SetString(strconv.FormatInt(x, 10))
		case int:
			dst.SetString(strconv.Itoa(x))
		default:
			return false
		}
		return true
	}
	switch x := v.(type) {
	case string:
		return setIntString(dst, x)
	case json.Number:
		return setIntString(dst, string(x))
	case int64:
		dst.SetInt(x)
	case int:
		dst.SetInt(int64(x))
	case float64:
		dst.SetInt(int64(x)) // mapstructure truncates floats into integers
	default:
		return false
	}
	return true
}

// setIntString applies DurationToSeconds, then StringToNumber.
func setIntString(dst reflect.Value, s string) bool {
	if secs, ok := ParseHMS(s); ok {
		dst.SetInt(secs)
		return true
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		dst.SetInt(n)
		return true
	}
	return false
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

// ParseHMS parses "HH:MM:SS" or "MM:SS" into seconds: the whole of s must
// match ^(?:(\d+):)?(\d{1,2}):(\d{2})$ (ASCII digits), minutes and seconds
// at most 59 (minutes are unbounded without hours: "75:00" is 4500).
func ParseHMS(s string) (int64, bool) {
	first, last := strings.IndexByte(s, ':'), strings.LastIndexByte(s, ':')
	if first < 0 {
		return 0, false
	}
	hasHours := first != last
	hours, mins := "", s[:first]
	if hasHours {
		hours, mins = s[:first], s[first+1:last]
		if !digits(hours, 1, -1) {
			return 0, false
		}
	}
	secs := s[last+1:]
	if !digits(mins, 1, 2) || !digits(secs, 2, 2) {
		return 0, false
	}
	var h int64
	if hasHours {
		var err error
		if h, err = strconv.ParseInt(hours, 10, 64); err != nil || h > math.MaxInt64/3600-1 {
			return 0, false // would overflow int64 seconds
		}
	}
	mi, _ := strconv.ParseInt(mins, 10, 64)
	se, _ := strconv.ParseInt(secs, 10, 64)
	if mi > 59 && hasHours || se > 59 {
		return 0, false
	}
	return h*3600 + mi*60 + se, true
}

// digits reports whether s is min to max ASCII digits (max < 0: no bound).
func digits(s string, min, max int) bool {
	if len(s) < min || max >= 0 && len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
	switch x := v.(type) { // the common cases, as the decoder below would
	case json.Number:
		if n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64); err == nil {
			return n, nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
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

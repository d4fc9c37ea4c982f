package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/wings-bff/wings/framework/internal/jsonscan"
)

// DecodeObject decodes only the named top-level members of the JSON object
// raw, the way encoding/json with UseNumber would decode them into
// map[string]any: numbers stay json.Number (ids beyond 2^53 survive),
// nested objects and arrays become maps and slices. Members not named are
// skipped without being decoded — an upstream answer's thirty unused
// fields cost a scan, not thirty allocations. raw that is not an object is
// an error.
func DecodeObject(raw []byte, keys ...string) (map[string]any, error) {
	sel := make(selection, len(keys))
	for _, k := range keys {
		sel[k] = nil
	}
	return decodeSelected(raw, sel)
}

// decodeValue decodes one JSON value; scalars without escapes take no
// decoder.
func decodeValue(v []byte) (any, error) {
	switch v[0] {
	case '"':
		if bytes.IndexByte(v, '\\') < 0 && len(v) >= 2 {
			return string(v[1 : len(v)-1]), nil
		}
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case 't', 'f', 'n':
		var x any
		err := json.Unmarshal(v, &x)
		return x, err
	case '{', '[':
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var x any
		err := dec.Decode(&x)
		return x, err
	default:
		if !json.Valid(v) {
			return nil, jsonscan.ErrSyntax
		}
		return json.Number(v), nil
	}
}

// selection is the tree of source paths a mapper reads: each member maps
// to the selection inside it, or to nil when the whole value is read.
type selection map[string]selection

func (sel selection) add(path []string) {
	child, seen := sel[path[0]]
	if len(path) == 1 {
		sel[path[0]] = nil // whole value wins
		return
	}
	if seen && child == nil {
		return
	}
	if child == nil {
		child = selection{}
		sel[path[0]] = child
	}
	child.add(path[1:])
}

// decodeSelected is DecodeObject over a selection: nested objects are
// decoded only as deep and as wide as the selection reaches.
func decodeSelected(raw []byte, sel selection) (map[string]any, error) {
	out := make(map[string]any, len(sel))
	err := jsonscan.ObjectEach(raw, func(quoted, value []byte) error {
		key, ok, err := wantedSel(sel, quoted)
		if err != nil || !ok {
			return err
		}
		var v any
		if sub := sel[key]; sub != nil && value[0] == '{' {
			v, err = decodeSelected(value, sub)
		} else {
			v, err = decodeValue(value)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		out[key] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mapping: want a JSON object: %w", err)
	}
	return out, nil
}

func wantedSel(sel selection, quoted []byte) (string, bool, error) {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		for k := range sel { // a few keys: reuse the selection's string, copy nothing
			if string(inner) == k {
				return k, true, nil
			}
		}
		return "", false, nil
	}
	key, err := jsonscan.Key(quoted)
	if err != nil {
		return "", false, err
	}
	_, ok := sel[key]
	return key, ok, nil
}

// Keys lists the top-level upstream members the mapper reads, for
// DecodeObject.
func (m *Mapper[T]) Keys() []string {
	var keys []string
	for _, f := range m.fields {
		if !slices.Contains(keys, f.path[0]) {
			keys = append(keys, f.path[0])
		}
	}
	return keys
}

// MapJSON converts one upstream object given as JSON, decoding only the
// members the mapping reads.
func (m *Mapper[T]) MapJSON(raw []byte) (T, error) {
	if m.direct != nil {
		var out T
		if m.mapDirect(raw, &out) {
			return out, nil
		}
	}
	obj, err := decodeSelected(raw, m.sel)
	if err != nil {
		var zero T
		return zero, err
	}
	return m.Map(obj)
}

// MapSliceJSON converts a list of upstream objects given as JSON.
func (m *Mapper[T]) MapSliceJSON(items []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(items))
	for i, item := range items {
		v, err := m.MapJSON(item)
		if err != nil {
			return nil, fmt.Errorf("mapping item %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

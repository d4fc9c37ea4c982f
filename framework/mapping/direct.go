package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"

	"github.com/wings-bff/wings/framework/internal/jsonscan"
)

// MapJSON's direct path. When every mapped field of T is a string or an
// integer (the fields setFast handles), MapJSON sets them straight from
// the JSON bytes: no map[string]any per object, no boxing of each value
// into an interface. Any value the direct path does not handle the way
// Map would (null, bools, objects or arrays where a scalar is mapped,
// malformed input) sends the whole object down the general path, so the
// result and the errors are exactly Map's (the fuzz test compares them).

// directNode is one member of the source object the direct path reads:
// either a mapped field or an object holding some.
type directNode struct {
	key      string
	field    int // index into Mapper.fields; -1 for an object node
	children []directNode
}

// buildDirect returns the direct plan for fields, or nil when some field
// needs mapstructure or two paths overlap.
func buildDirect(fields []field) []directNode {
	var root []directNode
	for i, f := range fields {
		if f.kind == 0 { // reflect.Invalid: only mapstructure may set it
			return nil
		}
		nodes := &root
		for depth, seg := range f.path {
			leaf := depth == len(f.path)-1
			j := -1
			for k := range *nodes {
				if (*nodes)[k].key == seg {
					j = k
				}
			}
			if j >= 0 && (leaf || (*nodes)[j].field >= 0) {
				return nil // "a" and "a.b", or one path twice
			}
			if j < 0 {
				n := directNode{key: seg, field: -1}
				if leaf {
					n.field = i
				}
				*nodes = append(*nodes, n)
				j = len(*nodes) - 1
			}
			nodes = &(*nodes)[j].children
		}
	}
	return root
}

// errIndirect stops the direct walk: the object takes the general path.
var errIndirect = errors.New("mapping: value needs the general path")

// mapDirect fills out from raw along the direct plan; false means the
// general path must decide.
func (m *Mapper[T]) mapDirect(raw []byte, out *T) bool {
	rv := reflect.ValueOf(out).Elem()
	return m.walk(raw, m.direct, rv) == nil
}

func (m *Mapper[T]) walk(raw []byte, nodes []directNode, rv reflect.Value) error {
	return jsonscan.ObjectEach(raw, func(quoted, value []byte) error {
		return m.member(quoted, value, nodes, rv)
	})
}

// member sets what one member of an object holds for the plan's nodes.
func (m *Mapper[T]) member(quoted, value []byte, nodes []directNode, rv reflect.Value) error {
	n := findNode(nodes, quoted)
	if n == nil {
		return nil
	}
	if n.field < 0 {
		if value[0] != '{' {
			return errIndirect
		}
		return m.walk(value, n.children, rv)
	}
	f := &m.fields[n.field]
	if !setRaw(rv.Field(f.index), f.kind, value) {
		return errIndirect
	}
	return nil
}

// MapJSONInt is MapJSON(raw) together with Int(DecodeObject(raw, key), key):
// the model and one more top-level integer member of the same object (say
// the id the next upstream call needs). When the direct path applies both
// come from one scan of raw, with no intermediate map; otherwise, and for
// any value the scan does not read the way Int would, it makes the two
// calls. The results and errors are exactly theirs (a fuzz test compares).
func (m *Mapper[T]) MapJSONInt(raw []byte, key string) (T, int64, error) {
	if m.direct != nil && !strings.Contains(key, ".") {
		var out T
		var member []byte
		rv := reflect.ValueOf(&out).Elem()
		err := jsonscan.ObjectEach(raw, func(quoted, value []byte) error {
			if string(quoted[1:len(quoted)-1]) == key {
				member = value // the last one wins, as in DecodeObject
			}
			return m.member(quoted, value, m.direct, rv)
		})
		if err == nil {
			if n, ok := rawInt(member); ok {
				return out, n, nil
			}
		}
	}
	v, err := m.MapJSON(raw)
	if err != nil {
		return v, 0, err
	}
	obj, err := DecodeObject(raw, key)
	if err != nil {
		return v, 0, err
	}
	n, err := Int(obj, key)
	return v, n, err
}

// rawInt is Int's fast path on a member's JSON: a valid JSON integer, or a
// string without escapes holding one (spaces around it allowed); false for
// anything else, including a missing member (nil).
func rawInt(v []byte) (int64, bool) {
	var s []byte
	switch {
	case len(v) == 0:
		return 0, false
	case v[0] == '"':
		s = v[1 : len(v)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			return 0, false
		}
		s = bytes.TrimSpace(s)
	default:
		if !jsonscan.Valid(v) {
			return 0, false
		}
		s = v
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	return n, err == nil
}

// findNode returns the node for a member key; keys with escapes take the
// general path (nil is "not mapped", so signal through a sentinel node).
func findNode(nodes []directNode, quoted []byte) *directNode {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return &escapedKey
	}
	for i := range nodes {
		if string(inner) == nodes[i].key {
			return &nodes[i]
		}
	}
	return nil
}

// escapedKey makes the walk give up on a key with escapes: unescaping it
// might name a mapped member.
var escapedKey = directNode{field: -1}

// setRaw sets dst from a JSON string or number as setFast would set the
// decoded string or json.Number; false for anything else.
func setRaw(dst reflect.Value, kind reflect.Kind, v []byte) bool {
	var s string
	switch {
	case v[0] == '"':
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			s = string(inner)
		} else if err := json.Unmarshal(v, &s); err != nil {
			return false
		}
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		s = string(v) // a json.Number
	default:
		return false
	}
	if kind == reflect.String {
		dst.SetString(s)
		return true
	}
	return setIntString(dst, s)
}

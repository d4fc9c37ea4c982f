package upstream

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/wings-bff/wings/framework/internal/jsonscan"
)

// Daos decode their team's envelope — a status code or flag, a message and
// the payload kept as json.RawMessage for the formatter — into a small
// struct. encoding/json walks the whole payload to copy it into the
// RawMessage (a reflective scanner over every byte); this decoder finds
// the members with jsonscan in one pass over the already-validated body
// and sets the fields directly, so the payload is scanned once here and
// decoded once, selectively, by the formatter. It handles structs whose
// fields are strings, bools, integers, floats, pointers to those,
// json.RawMessage and []json.RawMessage; any other shape is left to
// encoding/json (decided once per type). Results are the same as
// encoding/json's for valid JSON (the fuzz test compares them): keys
// match exactly, else case-insensitively; the last duplicate wins; null
// leaves scalars alone, clears pointers and slices, and is kept as "null"
// in a RawMessage; a wrong type is an error.

type fieldKind uint8

const (
	kindString fieldKind = iota + 1
	kindBool
	kindInt
	kindUint
	kindFloat
	kindRaw      // json.RawMessage
	kindRawSlice // []json.RawMessage
)

type fieldPlan struct {
	name  string
	index int
	kind  fieldKind
	ptr   bool         // the field is *T
	typ   reflect.Type // T
}

// structPlan is how to decode one struct type; nil means encoding/json.
type structPlan struct{ fields []fieldPlan }

var (
	rawType      = reflect.TypeFor[json.RawMessage]()
	rawSliceType = reflect.TypeFor[[]json.RawMessage]()
)

// planCache maps a reflect.Type to its *structPlan (nil: not handled).
type planCache struct{ m sync.Map }

func (pc *planCache) of(t reflect.Type) *structPlan {
	if p, ok := pc.m.Load(t); ok {
		return p.(*structPlan)
	}
	p := buildPlan(t)
	pc.m.Store(t, p)
	return p
}

func buildPlan(t reflect.Type) *structPlan {
	p := &structPlan{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil // promotion rules: leave them to encoding/json
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts != "" && opts != "omitempty" && opts != "omitzero" {
			return nil // ",string" and friends
		}
		if name == "" {
			name = sf.Name
		}
		f := fieldPlan{name: name, index: i, typ: sf.Type}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer && ft != rawType {
			f.ptr, ft = true, ft.Elem()
			f.typ = ft
		}
		switch {
		case ft == rawType:
			f.kind = kindRaw
		case ft == rawSliceType:
			f.kind = kindRawSlice
		case ft.Kind() == reflect.String:
			f.kind = kindString
		case ft.Kind() == reflect.Bool:
			f.kind = kindBool
		case ft.Kind() >= reflect.Int && ft.Kind() <= reflect.Int64:
			f.kind = kindInt
		case ft.Kind() >= reflect.Uint && ft.Kind() <= reflect.Uintptr:
			f.kind = kindUint
		case ft.Kind() == reflect.Float32 || ft.Kind() == reflect.Float64:
			f.kind = kindFloat
		default:
			return nil
		}
		if f.ptr && (f.kind == kindRaw || f.kind == kindRawSlice) {
			return nil
		}
		if f.kind != kindRaw && f.kind != kindRawSlice && (implements(ft, unmarshalerType) || implements(ft, textUnmarshalerType)) {
			return nil // a custom UnmarshalJSON or UnmarshalText decides for itself
		}
		p.fields = append(p.fields, f)
	}
	return p
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

// errDecodeType is a member of the wrong JSON type for its field.
var errDecodeType = errors.New("wrong JSON type")

// decodeFast decodes body into out when out is a pointer to a struct the
// plan handles, and reports whether it did. body must be valid JSON. With
// alias, RawMessage values are slices of body (capacity-limited, so an
// append copies) instead of copies: only for a body nobody else holds.
func decodeFast(pc *planCache, body []byte, out any, alias bool) (bool, error) {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false, nil
	}
	sv := rv.Elem()
	plan := pc.of(sv.Type())
	if plan == nil {
		return false, nil
	}
	i := jsonscan.SkipWS(body, 0)
	if i < len(body) && body[i] == 'n' {
		return true, nil // null: encoding/json leaves the struct alone
	}
	if i >= len(body) || body[i] != '{' {
		return true, fmt.Errorf("%w: cannot decode %s into %s", errDecodeType, jsonKind(body[i:]), sv.Type())
	}
	err := jsonscan.ObjectEach(body, func(quotedKey, value []byte) error {
		f, err := plan.lookup(quotedKey)
		if f == nil || err != nil {
			return err
		}
		if err := f.set(sv.Field(f.index), value, alias); err != nil {
			return fmt.Errorf("member %q: %w", f.name, err)
		}
		return nil
	})
	return true, err
}

// lookup returns the field a member key names: an exact match, else the
// first case-insensitive one, as encoding/json does.
func (p *structPlan) lookup(quotedKey []byte) (*fieldPlan, error) {
	inner := quotedKey[1 : len(quotedKey)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		k, err := jsonscan.Key(quotedKey)
		if err != nil {
			return nil, err
		}
		inner = []byte(k)
	}
	for i := range p.fields {
		if string(inner) == p.fields[i].name {
			return &p.fields[i], nil
		}
	}
	for i := range p.fields {
		if bytes.EqualFold(inner, []byte(p.fields[i].name)) {
			return &p.fields[i], nil
		}
	}
	return nil, nil
}

func (f *fieldPlan) set(fv reflect.Value, v []byte, alias bool) error {
	own := func(b []byte) []byte {
		if alias {
			return b[:len(b):len(b)]
		}
		return bytes.Clone(b)
	}
	if v[0] == 'n' { // null
		switch {
		case f.kind == kindRaw:
			fv.SetBytes([]byte("null"))
		case f.ptr, f.kind == kindRawSlice:
			fv.SetZero()
		}
		return nil
	}
	if f.ptr {
		if fv.IsNil() {
			fv.Set(reflect.New(f.typ))
		}
		fv = fv.Elem()
	}
	switch f.kind {
	case kindRaw:
		fv.SetBytes(own(v))
	case kindRawSlice:
		if v[0] != '[' {
			return typeErr(v, f)
		}
		items, err := splitArray(own(v))
		if err != nil {
			return err
		}
		fv.Set(reflect.ValueOf(items))
	case kindString:
		if v[0] != '"' {
			return typeErr(v, f)
		}
		s, err := jsonscan.Key(v)
		if err != nil {
			return err
		}
		if !utf8.ValidString(s) { // encoding/json replaces bad bytes with U+FFFD
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
		}
		fv.SetString(s)
	case kindBool:
		switch v[0] {
		case 't':
			fv.SetBool(true)
		case 'f':
			fv.SetBool(false)
		default:
			return typeErr(v, f)
		}
	case kindInt:
		if !isNumber(v) {
			return typeErr(v, f)
		}
		n, err := strconv.ParseInt(string(v), 10, f.typ.Bits())
		if err != nil {
			return fmt.Errorf("%w: number %s does not fit %s", errDecodeType, v, f.typ)
		}
		fv.SetInt(n)
	case kindUint:
		if !isNumber(v) {
			return typeErr(v, f)
		}
		n, err := strconv.ParseUint(string(v), 10, f.typ.Bits())
		if err != nil {
			return fmt.Errorf("%w: number %s does not fit %s", errDecodeType, v, f.typ)
		}
		fv.SetUint(n)
	case kindFloat:
		if !isNumber(v) {
			return typeErr(v, f)
		}
		n, err := strconv.ParseFloat(string(v), f.typ.Bits())
		if err != nil {
			return fmt.Errorf("%w: number %s does not fit %s", errDecodeType, v, f.typ)
		}
		fv.SetFloat(n)
	}
	return nil
}

// splitArray returns the elements of the JSON array b, as slices of b.
func splitArray(b []byte) ([]json.RawMessage, error) {
	var items []json.RawMessage
	i := jsonscan.SkipWS(b, 1)
	if i < len(b) && b[i] == ']' {
		return []json.RawMessage{}, nil
	}
	for i < len(b) {
		end, err := jsonscan.SkipValue(b, i)
		if err != nil {
			return nil, err
		}
		items = append(items, json.RawMessage(b[i:end:end]))
		i = jsonscan.SkipWS(b, end)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case ',':
			i = jsonscan.SkipWS(b, i+1)
		case ']':
			return items, nil
		default:
			return nil, jsonscan.ErrSyntax
		}
	}
	return nil, jsonscan.ErrSyntax
}

func isNumber(v []byte) bool { return v[0] == '-' || v[0] >= '0' && v[0] <= '9' }

func typeErr(v []byte, f *fieldPlan) error {
	return fmt.Errorf("%w: cannot decode %s into %s", errDecodeType, jsonKind(v), f.typ)
}

func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	case 'n':
		return "null"
	}
	return "a number"
}

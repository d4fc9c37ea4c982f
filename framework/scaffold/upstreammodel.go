package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"io"
	"strconv"
	"strings"
)

// jsonValue is a decoded JSON value that keeps the order of object members.
type jsonValue struct {
	kind    byte // 's' string, 'n' number, 'b' bool, '0' null, 'o' object, 'a' array
	raw     string
	members []member
	items   []jsonValue
}

type member struct {
	key string
	val jsonValue
}

func decodeOrdered(dec *json.Decoder) (jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return jsonValue{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			v := jsonValue{kind: 'o'}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return v, err
				}
				val, err := decodeOrdered(dec)
				if err != nil {
					return v, err
				}
				v.members = append(v.members, member{k.(string), val})
			}
			_, err := dec.Token()
			return v, err
		}
		v := jsonValue{kind: 'a'}
		for dec.More() {
			item, err := decodeOrdered(dec)
			if err != nil {
				return v, err
			}
			v.items = append(v.items, item)
		}
		_, err := dec.Token()
		return v, err
	case string:
		return jsonValue{kind: 's', raw: t}, nil
	case json.Number:
		return jsonValue{kind: 'n', raw: t.String()}, nil
	case bool:
		return jsonValue{kind: 'b', raw: strconv.FormatBool(t)}, nil
	default:
		return jsonValue{kind: '0'}, nil
	}
}

func (v jsonValue) member(k string) (jsonValue, bool) {
	for _, m := range v.members {
		if m.key == k {
			return m.val, true
		}
	}
	return jsonValue{}, false
}

// goType is the Go type of a scalar: integral numbers are int64.
func (v jsonValue) goType() string {
	switch v.kind {
	case 's':
		return "string"
	case 'b':
		return "bool"
	case 'n':
		if _, err := strconv.ParseInt(v.raw, 10, 64); err == nil {
			return "int64"
		}
		return "float64"
	}
	return ""
}

func (v jsonValue) goLiteral() string {
	switch v.kind {
	case 's':
		return strconv.Quote(v.raw)
	case 'n':
		if v.goType() == "float64" {
			f, _ := strconv.ParseFloat(v.raw, 64)
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
	}
	return v.raw
}

// UpstreamModel is what gen upstream-model writes: the model, the
// formatter (with the upstream's schema as a Go struct) and a test that
// maps the sample.
type UpstreamModel struct {
	Model, Formatter, Test []byte
	// Skipped lists sample paths left out of the model (nulls, arrays of
	// objects, mixed arrays), for the user to map by hand.
	Skipped []string
	// Root is the path of the object that was mapped ("" for the whole).
	Root string
}

// modelField is one leaf of the sample mapped onto the model.
type modelField struct {
	goName, jsonName, goType, source, literal string
}

// GenUpstreamModel builds the files from a sample upstream answer. root is
// the dotted path of the object to map; "auto" picks data or result when
// the sample is an envelope holding one of them as an object.
func GenUpstreamModel(module string, n Name, sample io.Reader, root string) (*UpstreamModel, error) {
	dec := json.NewDecoder(sample)
	dec.UseNumber()
	top, err := decodeOrdered(dec)
	if err != nil {
		return nil, fmt.Errorf("sample: not JSON: %w", err)
	}
	if top.kind != 'o' {
		return nil, errors.New("sample: must be a JSON object")
	}
	obj := top
	um := &UpstreamModel{}
	if root == "auto" {
		root = ""
		for _, k := range []string{"data", "result"} {
			if v, ok := top.member(k); ok && v.kind == 'o' {
				root = k
				break
			}
		}
	}
	if root != "" {
		for _, k := range strings.Split(root, ".") {
			v, ok := obj.member(k)
			if !ok || v.kind != 'o' {
				return nil, fmt.Errorf("sample: --root %q: no object at %q", root, k)
			}
			obj = v
		}
	}
	um.Root = root

	// The upstream struct, with nested types for objects.
	var structs []string
	var structOf func(typeName string, v jsonValue) string
	structOf = func(typeName string, v jsonValue) string {
		var b strings.Builder
		fmt.Fprintf(&b, "type %s struct {\n", typeName)
		for _, m := range v.members {
			fn, err := goFieldName(m.key)
			if err != nil {
				continue
			}
			t := "any"
			switch m.val.kind {
			case 'o':
				t = typeName + fn
				structs = append(structs, fmt.Sprintf("// %s is the upstream's %s object.\n", t, m.key)+structOf(t, m.val))
			case 'a':
				t = "[]any"
				if len(m.val.items) > 0 {
					switch it := m.val.items[0]; it.kind {
					case 'o':
						et := typeName + fn + "Item"
						structs = append(structs, fmt.Sprintf("// %s is one element of the upstream's %s array.\n", et, m.key)+structOf(et, it))
						t = "[]" + et
					case 's', 'n', 'b':
						t = "[]" + it.goType()
					}
				}
			case 's', 'n', 'b':
				t = m.val.goType()
			}
			fmt.Fprintf(&b, "%s %s `json:%q`\n", fn, t, m.key)
		}
		b.WriteString("}\n")
		return b.String()
	}
	upName := n.Exported + "Upstream"
	main := structOf(upName, obj)

	// The model's fields: the object's leaves, flattened.
	var fields []modelField
	seen := map[string]bool{}
	var walk func(prefix []string, v jsonValue)
	walk = func(prefix []string, v jsonValue) {
		for _, m := range v.members {
			path := append(append([]string(nil), prefix...), m.key)
			src := strings.Join(path, ".")
			var t, lit string
			switch m.val.kind {
			case 'o':
				walk(path, m.val)
				continue
			case 's', 'n', 'b':
				t, lit = m.val.goType(), m.val.goLiteral()
			case 'a':
				et := ""
				var lits []string
				for _, it := range m.val.items {
					if it.kind != 's' && it.kind != 'n' && it.kind != 'b' || (et != "" && it.goType() != et) {
						et = "-"
						break
					}
					et = it.goType()
					lits = append(lits, it.goLiteral())
				}
				if et == "" || et == "-" {
					um.Skipped = append(um.Skipped, src)
					continue
				}
				t, lit = "[]"+et, "[]"+et+"{"+strings.Join(lits, ", ")+"}"
			default:
				um.Skipped = append(um.Skipped, src)
				continue
			}
			goName, err := goFieldName(strings.Join(path, "_"))
			if err != nil {
				um.Skipped = append(um.Skipped, src)
				continue
			}
			for i := 2; seen[goName]; i++ {
				goName = strings.TrimRight(goName, "0123456789") + strconv.Itoa(i)
			}
			seen[goName] = true
			fields = append(fields, modelField{goName: goName, jsonName: jsonName(goName), goType: t, source: src, literal: lit})
		}
	}
	walk(nil, obj)
	if len(fields) == 0 {
		return nil, errors.New("sample: no field could be mapped onto a model")
	}

	var b strings.Builder
	fmt.Fprintf(&b, "package model\n\n// %s is one %s as the front end sees it.\ntype %s struct {\n", n.Exported, n.Stem, n.Exported)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s %s `json:%q`\n", f.goName, f.goType, f.jsonName)
	}
	b.WriteString("}\n")
	if um.Model, err = format.Source([]byte(b.String())); err != nil {
		return nil, err
	}

	b.Reset()
	fmt.Fprintf(&b, "package formatter\n\nimport (\n\"encoding/json\"\n\n%q\n%q\n)\n\n", module+"/app/model", FrameworkModule+"/framework/mapping")
	fmt.Fprintf(&b, "// %s is the upstream's %s object as sampled, for\n// code and tests that want it typed; Format decodes only the members it\n// maps.\n%s", upName, n.Stem, main)
	for _, s := range structs {
		b.WriteString("\n" + s)
	}
	fmt.Fprintf(&b, "\n// %[1]sFormatter maps the upstream's %[2]s object onto model.%[1]s.\ntype %[1]sFormatter struct{ m *mapping.Mapper[model.%[1]s] }\n\n", n.Exported, n.Stem)
	fmt.Fprintf(&b, "// New%[1]sFormatter returns the mapping: model field (json name) to\n// upstream path, dots reaching into nested objects.\nfunc New%[1]sFormatter() *%[1]sFormatter {\nreturn &%[1]sFormatter{m: mapping.New[model.%[1]s](mapping.Fields{\n", n.Exported)
	for _, f := range fields {
		fmt.Fprintf(&b, "%q: %q,\n", f.jsonName, f.source)
	}
	fmt.Fprintf(&b, "})}\n}\n\n// Format maps the upstream's %[2]s object.\nfunc (f *%[1]sFormatter) Format(raw json.RawMessage) (model.%[1]s, error) {\nreturn f.m.MapJSON(raw)\n}\n", n.Exported, n.Stem)
	if um.Formatter, err = format.Source([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("formatter: %w\n%s", err, b.String())
	}

	var pretty bytes.Buffer
	rootJSON := rawOf(obj)
	if err := json.Indent(&pretty, []byte(rootJSON), "", "\t"); err != nil {
		return nil, err
	}
	sampleLit := "`" + pretty.String() + "`"
	if strings.Contains(pretty.String(), "`") {
		sampleLit = strconv.Quote(pretty.String())
	}
	b.Reset()
	fmt.Fprintf(&b, "package formatter_test\n\nimport (\n\"reflect\"\n\"testing\"\n\n%q\n%q\n)\n\n", module+"/app/formatter", module+"/app/model")
	fmt.Fprintf(&b, "// sample%[1]s is the sampled upstream object.\nconst sample%[1]s = %[2]s\n\n", n.Exported, sampleLit)
	fmt.Fprintf(&b, "func Test%[1]sFormat(t *testing.T) {\nt.Parallel()\ntests := []struct {\nname string\nin string\nwant model.%[1]s\n}{\n{\"sample\", sample%[1]s, model.%[1]s{\n", n.Exported)
	for _, f := range fields {
		fmt.Fprintf(&b, "%s: %s,\n", f.goName, f.literal)
	}
	fmt.Fprintf(&b, "}},\n{\"empty\", `{}`, model.%[1]s{}},\n}\nf := formatter.New%[1]sFormatter()\nfor _, tc := range tests {\nt.Run(tc.name, func(t *testing.T) {\ngot, err := f.Format([]byte(tc.in))\nif err != nil {\nt.Fatal(err)\n}\nif !reflect.DeepEqual(got, tc.want) {\nt.Errorf(\"got %%+v; want %%+v\", got, tc.want)\n}\n})\n}\n}\n", n.Exported)
	if um.Test, err = format.Source([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("test: %w\n%s", err, b.String())
	}
	return um, nil
}

// rawOf writes v back as compact JSON, in its original member order.
func rawOf(v jsonValue) string {
	switch v.kind {
	case 's':
		b, _ := json.Marshal(v.raw)
		return string(b)
	case 'n', 'b':
		return v.raw
	case '0':
		return "null"
	case 'o':
		parts := make([]string, len(v.members))
		for i, m := range v.members {
			k, _ := json.Marshal(m.key)
			parts[i] = string(k) + ":" + rawOf(m.val)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	parts := make([]string, len(v.items))
	for i, it := range v.items {
		parts[i] = rawOf(it)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// goFieldName turns a JSON key (album_id, albumId, cover-url) into an
// exported Go name (AlbumID, CoverURL).
func goFieldName(key string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key)
	clean = strings.Trim(clean, "_")
	for strings.Contains(clean, "__") {
		clean = strings.ReplaceAll(clean, "__", "_")
	}
	if clean == "" {
		return "", fmt.Errorf("key %q has no letters", key)
	}
	if clean[0] >= '0' && clean[0] <= '9' {
		clean = "F_" + clean
	}
	var out string
	for _, w := range splitWords(clean) {
		if initialisms[w] {
			out += strings.ToUpper(w)
		} else {
			out += capitalize(w)
		}
	}
	return out, nil
}

// jsonName is the model's json name for a Go field name: lower camel case
// with initialisms as words (CoverURL -> coverUrl, ID -> id).
func jsonName(goName string) string {
	words := splitWords(goName)
	out := words[0]
	for _, w := range words[1:] {
		out += capitalize(w)
	}
	return out
}

package render_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wings-bff/wings/framework/render"
)

func TestParseFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want render.Fields
	}{
		{"", nil},
		{",, ,", nil},
		{"id", render.Fields{"id": nil}},
		{" id , title ", render.Fields{"id": nil, "title": nil}},
		{"album.title", render.Fields{"album": {"title": nil}}},
		{"album.title,album.cover", render.Fields{"album": {"title": nil, "cover": nil}}},
		{"album,album.title", render.Fields{"album": nil}},
		{"album.title,album", render.Fields{"album": nil}},
		{"a.b,a.b.c", render.Fields{"a": {"b": nil}}},
		{"a.b.c,a.b", render.Fields{"a": {"b": nil}}},
		{"id,id", render.Fields{"id": nil}},
		{"album . title", render.Fields{"album": {"title": nil}}},
		{"a.b.c.d.e.f.g.h", render.Fields{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": nil}}}}}}}}},
	}
	for _, tc := range tests {
		got, err := render.ParseFields(tc.in)
		if err != nil {
			t.Errorf("ParseFields(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFields(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseFieldsErrors(t *testing.T) {
	t.Parallel()
	many := strings.Repeat("a,", render.MaxFieldsCount) + "a"
	tests := []struct {
		name, in, want string
	}{
		{"empty segment", "album..title", `fields: "album..title" has an empty segment`},
		{"leading dot", ".id", "empty segment"},
		{"trailing dot", "id.", "empty segment"},
		{"blank segment", "album. .title", "empty segment"},
		{"too deep", "a.b.c.d.e.f.g.h.i", "nests deeper than 8"},
		{"too many", many, "more than 64 paths"},
		{"too long", strings.Repeat("x", render.MaxFieldsLen+1), "longer than 1024 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := render.ParseFields(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFields = %v, %v; want an error containing %q", f, err, tc.want)
			}
		})
	}
}

const videoJSON = `{"id":42,"title":"Video 42","duration":2530,` +
	`"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"},` +
	`"stars":[{"id":43,"name":"Star 43","avatar":"a43"},{"id":93,"name":"Star 93","avatar":"a93"}],` +
	`"tags":["x","y"]}`

func TestFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, fields, src, want string
	}{
		{"top-level keys keep source order", "title,id", videoJSON, `{"id":42,"title":"Video 42"}`},
		{"nested", "id,album.title", videoJSON, `{"id":42,"album":{"title":"Album 1042"}}`},
		{"whole object", "album", videoJSON, `{"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"}}`},
		{"whole array of objects", "stars", videoJSON, `{"stars":[{"id":43,"name":"Star 43","avatar":"a43"},{"id":93,"name":"Star 93","avatar":"a93"}]}`},
		{"array of objects", "stars.name", videoJSON, `{"stars":[{"name":"Star 43"},{"name":"Star 93"}]}`},
		{"array of primitives", "tags", videoJSON, `{"tags":["x","y"]}`},
		{"whole wins", "album,album.title", videoJSON, `{"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"}}`},
		{"unknown ignored", "nope,id,album.nope", videoJSON, `{"id":42,"album":{}}`},
		{"nothing known", "nope", videoJSON, `{}`},
		{"selection below a primitive keeps it", "id.x", videoJSON, `{"id":42}`},
		{"top-level array", "id", `[{"id":1,"x":2},{"x":3}]`, `[{"id":1},{}]`},
		{"top-level primitive", "id", `"s"`, `"s"`},
		{"escaped key", "title", `{"ti\u0074le":"a","t":1}`, `{"ti\u0074le":"a"}`},
		{"quotes and braces in strings", "b", `{"a":"}{\"[","b":"]\"x","c":{"d":"}"}}`, `{"b":"]\"x"}`},
		{"whitespace", "a,c", " {\n\t\"a\" : 1 ,\r\n \"b\" : [ 1 , 2 ] , \"c\" : { \"d\" : true } } ", `{"a":1,"c":{ "d" : true }}`},
		{"empty object and array", "a,b", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
		{"null kept", "a", `{"a":null}`, `{"a":null}`},
		{"empty input object", "a", `{}`, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := render.ParseFields(tc.fields)
			if err != nil {
				t.Fatal(err)
			}
			got, err := render.Filter([]byte("p:"), []byte(tc.src), f)
			if err != nil {
				t.Fatalf("Filter: %v", err)
			}
			if string(got) != "p:"+tc.want {
				t.Errorf("got %s; want p:%s", got, tc.want)
			}
		})
	}
}

func TestFilterNilCopies(t *testing.T) {
	t.Parallel()
	got, err := render.Filter(nil, []byte(videoJSON), nil)
	if err != nil || string(got) != videoJSON {
		t.Errorf("Filter(nil fields) = %s, %v; want the input", got, err)
	}
}

func TestFilterMalformed(t *testing.T) {
	t.Parallel()
	f, err := render.ParseFields("a,b.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		``, ` `, `{`, `[`, `{"a"`, `{"a":`, `{"a":1`, `{"a" 1}`, `{a:1}`, `{"a":1,}`, `{"a":1,,"b":2}`,
		`{,"a":1}`, `{"a":1}}`, `{"a":1} x`, `[1,]`, `[1 2]`, `[,1]`, `{"a":"unterminated}`, `{"b":{"c":}}`,
		`{"a\`, `{"\u12":1}`, `{"x":[1,2}`, `{"x":{"y":1}`,
	} {
		got, err := render.Filter(nil, []byte(src), f)
		if err == nil {
			t.Errorf("Filter(%q) = %s; want an error", src, got)
		}
	}
}

// FuzzParseFields checks that any parameter either errors or yields a
// selection within the limits with no empty segments.
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{"", "id", "a,b.c", "album,album.title", "a..b", " x , y.z ", strings.Repeat("a.", 9)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := render.ParseFields(s)
		if err != nil {
			return
		}
		if len(s) > render.MaxFieldsLen {
			t.Fatalf("accepted %d characters", len(s))
		}
		var walk func(f render.Fields, depth int)
		walk = func(f render.Fields, depth int) {
			if depth > render.MaxFieldsDepth {
				t.Fatalf("depth %d > %d", depth, render.MaxFieldsDepth)
			}
			if f != nil && len(f) == 0 {
				t.Fatalf("empty non-nil selection in %v", fs)
			}
			for k, sub := range f {
				if k == "" || strings.Contains(k, ".") || strings.Contains(k, ",") || k != strings.TrimSpace(k) {
					t.Fatalf("bad key %q in %v", k, fs)
				}
				walk(sub, depth+1)
			}
		}
		walk(fs, 0)
	})
}

// FuzzFilter checks Filter on arbitrary input and selections: it never
// panics; valid JSON in gives valid JSON out, with every key of the output
// also in the input; selecting every top-level key whole gives back the
// input, compacted.
func FuzzFilter(f *testing.F) {
	f.Add([]byte(videoJSON), "id,album.title,stars.name")
	f.Add([]byte(`[{"a":{"b":[1,{"c":2}]}}]`), "a.b.c")
	f.Add([]byte(`{"a":"\u2028\"}","b":[]}`), "a")
	f.Add([]byte(`{"a":1,,}`), "a")
	f.Add([]byte(` { "a" : { } } `), "a,b")
	f.Add([]byte("{\"\x8b\":{}}"), "0")
	f.Fuzz(func(t *testing.T, src []byte, fields string) {
		fs, err := render.ParseFields(fields)
		if err != nil {
			return
		}
		out, err := render.Filter(nil, src, fs)
		if !json.Valid(src) {
			return // an error or a best-effort answer; never a panic
		}
		if err != nil {
			t.Fatalf("Filter(%q, %q): %v on valid JSON", src, fields, err)
		}
		if !json.Valid(out) {
			t.Fatalf("Filter(%q, %q) = %q: not valid JSON", src, fields, out)
		}
		if fs == nil {
			if !bytes.Equal(out, src) {
				t.Fatalf("nil selection changed %q into %q", src, out)
			}
			return
		}
		// Selecting every top-level key of an object whole keeps it all.
		// (Not for invalid UTF-8: Unmarshal turns a key's bad bytes into
		// U+FFFD, so the selection would name a key the document lacks.)
		var top map[string]json.RawMessage
		if !utf8.Valid(src) || json.Unmarshal(src, &top) != nil || len(top) == 0 {
			return
		}
		all := render.Fields{}
		for k := range top {
			all[k] = nil
		}
		whole, err := render.Filter(nil, src, all)
		if err != nil {
			t.Fatalf("Filter(%q, all keys): %v", src, err)
		}
		var a, b bytes.Buffer
		if json.Compact(&a, src) != nil || json.Compact(&b, whole) != nil {
			t.Fatalf("compact failed on %q / %q", src, whole)
		}
		if a.String() != b.String() {
			t.Fatalf("all keys: got %s; want %s", b.String(), a.String())
		}
	})
}

var callbackRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$`)

// FuzzValidCallback checks that accepted names contain only identifier
// characters and dots, never more than 64 bytes, exactly as the regex says.
func FuzzValidCallback(f *testing.F) {
	for _, s := range []string{"cb", "a.b", "$", "alert(1)", "1a", "", "a\n", strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ok := render.ValidCallback(s)
		if ok != callbackRE.MatchString(s) {
			t.Fatalf("ValidCallback(%q) = %v; regex says %v", s, ok, !ok)
		}
		if !ok {
			return
		}
		if len(s) > 64 {
			t.Fatalf("accepted %d bytes", len(s))
		}
		for _, c := range []byte(s) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '.') {
				t.Fatalf("accepted %q with %q", s, c)
			}
		}
	})
}

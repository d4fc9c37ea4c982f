package render_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wings-bff/wings/framework/render"
)

func TestSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data string
		meta render.Meta
		want string
	}{
		{"object", `{"id":1}`, render.Meta{}, `{"code":0,"data":{"id":1}}`},
		{"empty data is null", ``, render.Meta{}, `{"code":0,"data":null}`},
		{"degraded", `[]`, render.Meta{Degraded: []string{"star"}}, `{"code":0,"data":[],"degraded":["star"]}`},
		{"stale and degraded", `1`, render.Meta{Degraded: []string{"a", "b"}, Stale: []string{"c"}},
			`{"code":0,"data":1,"degraded":["a","b"],"stale":["c"]}`},
		{"quoted names", `1`, render.Meta{Stale: []string{`x"y`}}, `{"code":0,"data":1,"stale":["x\"y"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(render.Success([]byte("prefix:"), []byte(tc.data), tc.meta))
			if got != "prefix:"+tc.want {
				t.Errorf("got %s; want prefix:%s", got, tc.want)
			}
			if !json.Valid([]byte(strings.TrimPrefix(got, "prefix:"))) {
				t.Errorf("%s is not valid JSON", got)
			}
		})
	}
}

func TestFailureBytes(t *testing.T) {
	t.Parallel()
	got := string(render.Failure{Code: 404, Msg: "video 7 not found", Error: "not_found", RequestID: "r-1"}.Bytes())
	want := `{"code":404,"msg":"video 7 not found","error":"not_found","request_id":"r-1"}`
	if got != want {
		t.Errorf("got %s; want %s", got, want)
	}
	// request_id is always present, error only when set.
	got = string(render.Failure{Code: 500, Msg: "internal error"}.Bytes())
	if want := `{"code":500,"msg":"internal error","request_id":""}`; got != want {
		t.Errorf("got %s; want %s", got, want)
	}
}

func TestValidCallback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ok   bool
	}{
		{"cb", true},
		{"jQuery123_456", true},
		{"$", true},
		{"_", true},
		{"a.b.c", true},
		{"$.fn.cb", true},
		{"a" + strings.Repeat("b", 63), true},  // 64 characters
		{"a" + strings.Repeat("b", 64), false}, // 65 characters
		{"", false},
		{"1cb", false},
		{".cb", false},
		{"alert(1)", false},
		{"cb;alert(1)", false},
		{"cb//", false},
		{"a b", false},
		{"a-b", false},
		{"a\n", false},
		{"a\x00", false},
		{"<script>", false},
		{"café", false},
		{"回调", false},
		{"a\u2028", false},
	}
	for _, tc := range tests {
		if got := render.ValidCallback(tc.name); got != tc.ok {
			t.Errorf("ValidCallback(%q) = %v; want %v", tc.name, got, tc.ok)
		}
	}
}

func TestJSONP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string
	}{
		{"plain", `{"a":1}`, `/**/cb({"a":1});`},
		{"line separator", "{\"a\":\"x\u2028y\"}", `/**/cb({"a":"x\u2028y"});`},
		{"paragraph separator", "{\"a\":\"x\u2029y\u2028\"}", `/**/cb({"a":"x\u2029y\u2028"});`},
		{"other E2 80 runes kept", "\"\u2026\"", "/**/cb(\"\u2026\");"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(render.JSONP(nil, "cb", []byte(tc.body)))
			if got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
			if strings.ContainsAny(got, "\u2028\u2029") {
				t.Errorf("%q still contains a raw separator", got)
			}
		})
	}
}

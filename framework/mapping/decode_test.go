package mapping_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wings-bff/wings/framework/mapping"
)

func TestDecodeObject(t *testing.T) {
	raw := []byte(`{"id": 9007199254740993, "name":"a\u00e9\"b", "skip":{"deep":[1,2,{"x":"}"}]},
		"ok":true, "none":null, "list":[1,"2"], "obj":{"url":"u"}, "neg":-1.5e3}`)
	got, err := mapping.DecodeObject(raw, "id", "name", "ok", "none", "list", "obj", "neg", "absent")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": json.Number("9007199254740993"), "name": "aé\"b", "ok": true, "none": nil,
		"list": []any{json.Number("1"), "2"}, "obj": map[string]any{"url": "u"}, "neg": json.Number("-1.5e3"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
	if _, ok := got["skip"]; ok {
		t.Error("decoded a member nobody asked for")
	}
}

func TestDecodeObjectRejects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":1,}`, `{"a" 1}`, `{"a":1`, `{"a":12x}`, `{"a":tru}`} {
		if _, err := mapping.DecodeObject([]byte(in), "a"); err == nil {
			t.Errorf("DecodeObject(%q) = nil error; want one", in)
		}
	}
}

func TestMapJSON(t *testing.T) {
	type album struct {
		ID       int64  `json:"id"`
		Title    string `json:"title"`
		Episodes int    `json:"episodes"`
		Cover    string `json:"cover"`
		Other    string `json:"other"`
	}
	m := mapping.New[album](mapping.Fields{"id": "album_id", "title": "album_title", "episodes": "episode_total", "cover": "cover.url", "other": "-"})
	got, err := m.MapJSON([]byte(`{"album_id":"1042","album_title":"Album","episode_total":40,"cover":{"url":"c","w":1},"other":"never"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (album{ID: 1042, Title: "Album", Episodes: 40, Cover: "c"}); got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if keys := m.Keys(); !reflect.DeepEqual(keys, []string{"album_id", "album_title", "episode_total", "cover"}) {
		t.Errorf("Keys() = %v", keys)
	}
	items, err := m.MapSliceJSON([]json.RawMessage{[]byte(`{"album_id":1}`), []byte(`[1]`)})
	if err == nil {
		t.Errorf("MapSliceJSON with a non-object item = %v; want an error", items)
	}
}

// FuzzDecodeObject checks DecodeObject against encoding/json: on input
// encoding/json accepts as an object, every member decodes to what
// encoding/json (UseNumber) gives; DecodeObject never panics.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":"x","c":{"d":[1,2]}}`, `{"a":"\u2028","b":null}`, `{}`, `{"a":1e400}`, `[1]`, `{"a":"}"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := mapping.DecodeObject(raw, "a", "b", "c")
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var want map[string]any
		if dec.Decode(&want) != nil || dec.More() || want == nil {
			return // not a single JSON object: only "no panic" is promised
		}
		if err != nil {
			t.Fatalf("DecodeObject(%q) = %v; encoding/json accepts it", raw, err)
		}
		for _, k := range []string{"a", "b", "c"} {
			w, ok := want[k]
			g, gok := got[k]
			if ok != gok || !reflect.DeepEqual(g, w) {
				t.Fatalf("member %q: got %#v (%v), want %#v (%v)", k, g, gok, w, ok)
			}
		}
	})
}

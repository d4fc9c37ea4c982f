package mapping_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/wings-bff/wings/framework/mapping"
)

type album struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Episodes int    `json:"episodes"`
	Cover    string `json:"cover"`
}

type video struct {
	ID       int64   `json:"id"`
	Key      string  `json:"key"`
	Title    string  `json:"title"`
	Duration int64   `json:"duration"`
	Score    float64 `json:"score"`
	Small    int32   `json:"small"`
	Tags     []string
	Album    *album `json:"album"`
	Ignored  string `json:"-"`
}

var videoFields = mapping.Fields{
	"id":       "qipuId",
	"key":      "qipuId",
	"title":    "videoName",
	"duration": "meta.duration",
	"score":    "score",
	"nothing":  "not a model field",
	"Ignored":  "x",
}

func TestMapConversions(t *testing.T) {
	t.Parallel()
	m := mapping.New[video](videoFields)
	tests := []struct {
		name string
		src  map[string]any
		want video
	}{
		{"HH:MM:SS", map[string]any{"meta": map[string]any{"duration": "00:42:10"}}, video{Duration: 2530}},
		{"MM:SS", map[string]any{"meta": map[string]any{"duration": "42:10"}}, video{Duration: 2530}},
		{"hours beyond a day", map[string]any{"meta": map[string]any{"duration": "100:00:01"}}, video{Duration: 360001}},
		{"digits string", map[string]any{"meta": map[string]any{"duration": "123"}}, video{Duration: 123}},
		{"json.Number", map[string]any{"qipuId": json.Number("42")}, video{ID: 42, Key: "42"}},
		{"float64 number", map[string]any{"qipuId": float64(42)}, video{ID: 42, Key: "42"}},
		{"int", map[string]any{"qipuId": 42}, video{ID: 42, Key: "42"}},
		{"string id", map[string]any{"qipuId": "42"}, video{ID: 42, Key: "42"}},
		{"beyond 2^53 keeps precision", map[string]any{"qipuId": json.Number("9007199254740993")},
			video{ID: 9007199254740993, Key: "9007199254740993"}},
		{"max int64", map[string]any{"qipuId": json.Number("9223372036854775807")},
			video{ID: math.MaxInt64, Key: "9223372036854775807"}},
		{"float from string", map[string]any{"score": "4.5"}, video{Score: 4.5}},
		{"float from json.Number", map[string]any{"score": json.Number("4.5")}, video{Score: 4.5}},
		{"int32 field", map[string]any{"small": "7"}, video{Small: 7}},
		{"same-name field", map[string]any{"Tags": []any{"a", "b"}}, video{Tags: []string{"a", "b"}}},
		{"nested struct", map[string]any{"album": map[string]any{"id": json.Number("3"), "title": "A", "episodes": "40"}},
			video{Album: &album{ID: 3, Title: "A", Episodes: 40}}},
		{"missing fields are zero", map[string]any{"other": 1}, video{}},
		{"dotted path through a non-object is missing", map[string]any{"meta": "flat"}, video{}},
		{"json:\"-\" is never set", map[string]any{"x": "no", "Ignored": "no"}, video{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Map(tc.src)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestMapErrorsNameField(t *testing.T) {
	t.Parallel()
	m := mapping.New[video](videoFields)
	tests := []struct {
		name  string
		src   map[string]any
		field string
	}{
		{"words into an integer", map[string]any{"qipuId": "forty-two"}, "id"},
		{"bad duration", map[string]any{"meta": map[string]any{"duration": "00:61:00"}}, "duration"},
		{"object into a string", map[string]any{"videoName": map[string]any{"a": 1}}, "title"},
		{"bool into an integer", map[string]any{"meta": map[string]any{"duration": true}}, "duration"},
		{"overflow", map[string]any{"qipuId": json.Number("9223372036854775808")}, "id"},
		{"fraction into an integer", map[string]any{"qipuId": json.Number("1.5")}, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Map(tc.src)
			if err == nil {
				t.Fatalf("Map = %+v; want an error", got)
			}
			if !strings.Contains(err.Error(), "'"+tc.field+"'") {
				t.Errorf("err = %v; want it to name %q", err, tc.field)
			}
		})
	}
}

func TestParseHMS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00:42:10", 2530, true},
		{"42:10", 2530, true},
		{"1:02:03", 3723, true},
		{"0:00", 0, true},
		{"75:00", 4500, true},
		{"1:60:00", 0, false},
		{"00:00:60", 0, false},
		{"1:2:3", 0, false},
		{"123", 0, false},
		{"", 0, false},
		{":10", 0, false},
		{"a:10", 0, false},
		{"00:42:10 ", 0, false},
		{"-1:00:00", 0, false},
		{"１:00", 0, false}, // full-width digit
		{"99999999999999999999:00:00", 0, false},
	}
	for _, tc := range tests {
		got, ok := mapping.ParseHMS(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseHMS(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMapSlice(t *testing.T) {
	t.Parallel()
	m := mapping.New[album](mapping.Fields{"id": "album_id", "cover": "cover.url"})
	got, err := m.MapSlice([]any{
		map[string]any{"album_id": json.Number("1"), "cover": map[string]any{"url": "u1"}},
		map[string]any{"album_id": "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []album{{ID: 1, Cover: "u1"}, {ID: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v; want %+v", got, want)
	}
	if got, err := m.MapSlice(nil); err != nil || len(got) != 0 || got == nil {
		t.Errorf("MapSlice(nil) = %#v, %v; want an empty list", got, err)
	}
	_, err = m.MapSlice([]any{map[string]any{}, "star"})
	if err == nil || !strings.Contains(err.Error(), "item 1: not an object") {
		t.Errorf("err = %v; want item 1 named as not an object", err)
	}
	_, err = m.MapSlice([]any{map[string]any{"album_id": "x"}})
	if err == nil || !strings.Contains(err.Error(), "item 0") || !strings.Contains(err.Error(), "'id'") {
		t.Errorf("err = %v; want item 0 and field id named", err)
	}
}

func TestInt(t *testing.T) {
	t.Parallel()
	src := map[string]any{
		"n": json.Number("9007199254740993"), "s": " 12 ", "f": float64(7), "i": int64(8), "small": int32(9),
		"nested": map[string]any{"id": "5"}, "word": "x", "fraction": json.Number("1.5"),
	}
	tests := []struct {
		path string
		want int64
		err  string
	}{
		{"n", 9007199254740993, ""},
		{"s", 12, ""},
		{"f", 7, ""},
		{"i", 8, ""},
		{"small", 9, ""},
		{"nested.id", 5, ""},
		{"missing", 0, "mapping: missing: missing"},
		{"nested.missing", 0, "nested.missing: missing"},
		{"word", 0, "mapping: word:"},
		{"fraction", 0, "mapping: fraction:"},
	}
	for _, tc := range tests {
		got, err := mapping.Int(src, tc.path)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Int(%q) = %d, %v; want an error containing %q", tc.path, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Int(%q) = %d, %v; want %d", tc.path, got, err, tc.want)
		}
	}
}

// flat has only fields Map sets on its fast path; mapping onto *flat goes
// through mapstructure alone.
type flat struct {
	S string `json:"s"`
	I int    `json:"i"`
	L int64  `json:"l"`
}

// FuzzMapFastPath checks that the direct field setting of Map agrees with
// mapstructure and the decode hooks on every value and error.
func FuzzMapFastPath(f *testing.F) {
	for _, s := range []string{"00:42:10", "42:10", "123", " 7 ", "x", "1.5", "9007199254740993", "-3", "", "1:60:00"} {
		f.Add(s, 1.5)
	}
	fast := mapping.New[flat](nil)
	slow := mapping.New[*flat](nil)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<62 {
			return // out of int64 range: conversion is implementation-defined
		}
		for _, v := range []any{s, json.Number(s), x, int64(len(s))} {
			src := map[string]any{"s": v, "i": v, "l": v}
			a, errA := fast.Map(src)
			b, errB := slow.Map(src)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("%#v: fast err %v; mapstructure err %v", v, errA, errB)
			}
			if errA == nil && (b == nil || a != *b) {
				t.Fatalf("%#v: fast %+v; mapstructure %+v", v, a, b)
			}
		}
	})
}

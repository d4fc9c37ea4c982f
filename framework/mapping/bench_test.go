package mapping_test

import (
	"encoding/json"
	"testing"

	"github.com/wings-bff/wings/framework/mapping"
)

type benchModel struct {
	ID       int64  `json:"id"`
	Title    string `json:"title"`
	Duration int64  `json:"duration"`
	Cover    string `json:"cover"`
	Count    int64  `json:"count"`
	Tag      string `json:"tag"`
}

func benchSource() map[string]any {
	return map[string]any{
		"qipuId":    json.Number("42"),
		"videoName": "Video 42",
		"duration":  "00:42:10",
		"image":     map[string]any{"url": "https://img.example/v/42.jpg", "w": json.Number("300")},
		"count":     "123",
		"tag":       json.Number("7"),
		"unused1":   "dropped",
		"unused2":   []any{"a", "b"},
	}
}

func BenchmarkMappingMap(b *testing.B) {
	m := mapping.New[benchModel](mapping.Fields{
		"id": "qipuId", "title": "videoName", "cover": "image.url",
	})
	src := benchSource()
	b.ReportAllocs()
	for b.Loop() {
		v, err := m.Map(src)
		if err != nil || v.Duration != 2530 || v.Count != 123 || v.Tag != "7" {
			b.Fatalf("%+v %v", v, err)
		}
	}
}

func BenchmarkMappingMapSlice(b *testing.B) {
	m := mapping.New[benchModel](mapping.Fields{"id": "qipuId", "title": "videoName"})
	src := []any{benchSource(), benchSource(), benchSource()}
	b.ReportAllocs()
	for b.Loop() {
		if v, err := m.MapSlice(src); err != nil || len(v) != 3 {
			b.Fatal(err)
		}
	}
}

func BenchmarkMappingInt(b *testing.B) {
	src := benchSource()
	b.ReportAllocs()
	for b.Loop() {
		if n, err := mapping.Int(src, "qipuId"); err != nil || n != 42 {
			b.Fatal(n, err)
		}
	}
}

func BenchmarkParseHMS(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if s, ok := mapping.ParseHMS("00:42:10"); !ok || s != 2530 {
			b.Fatal(s)
		}
	}
}

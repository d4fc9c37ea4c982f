package render_test

import (
	"encoding/json"
	"testing"

	"github.com/wings-bff/wings/framework/render"
)

// benchData is the shape of GET /api/video/:id's data.
var benchData = []byte(`{"id":42,"title":"Video 42","duration":2530,"cover":"https://img.example/v/42.jpg",` +
	`"playCount":332599,"album":{"id":1042,"title":"Album 1042","episodes":40,"cover":"https://img.example/a/1042.jpg"},` +
	`"stars":[{"id":43,"name":"Star 43","avatar":"https://img.example/s/43.jpg"},` +
	`{"id":93,"name":"Star 93","avatar":"https://img.example/s/93.jpg"},` +
	`{"id":143,"name":"Star 143","avatar":"https://img.example/s/143.jpg"}]}`)

func BenchmarkParseFields(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if f, err := render.ParseFields("id,title,album.title,stars.name"); err != nil || len(f) != 4 {
			b.Fatal(f, err)
		}
	}
}

func BenchmarkFilter(b *testing.B) {
	f, err := render.ParseFields("id,title,album.title,stars.name")
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(benchData)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := render.Filter(buf[:0], benchData, f)
		if err != nil || !json.Valid(out) {
			b.Fatalf("%s %v", out, err)
		}
	}
}

func BenchmarkSuccess(b *testing.B) {
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(benchData)))
	b.ReportAllocs()
	for b.Loop() {
		buf = render.Success(buf[:0], benchData, render.Meta{})
	}
}

func BenchmarkSuccessDegraded(b *testing.B) {
	buf := make([]byte, 0, 1024)
	meta := render.Meta{Degraded: []string{"stars"}}
	b.ReportAllocs()
	for b.Loop() {
		buf = render.Success(buf[:0], benchData, meta)
	}
}

func BenchmarkJSONP(b *testing.B) {
	body := render.Success(nil, benchData, render.Meta{})
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if !render.ValidCallback("jQuery123_456") {
			b.Fatal("callback rejected")
		}
		buf = render.JSONP(buf[:0], "jQuery123_456", body)
	}
}

// BenchmarkJSONPEscape has U+2028 in the body, which takes the escaping path.
func BenchmarkJSONPEscape(b *testing.B) {
	body := render.Success(nil, []byte(`{"title":"line\u2028break `+"\u2028"+`"}`), render.Meta{})
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = render.JSONP(buf[:0], "cb", body)
	}
}

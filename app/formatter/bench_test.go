package formatter_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wings-bff/wings/app/formatter"
	"github.com/wings-bff/wings/app/mockupstream"
)

// decode reads a mock team's body the way framework/upstream does (numbers
// kept as json.Number) and returns the object at key.
func decode(tb testing.TB, body []byte, key string) any {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		tb.Fatal(err)
	}
	v, ok := m[key]
	if !ok {
		tb.Fatalf("no %q in %s", key, body)
	}
	return v
}

func BenchmarkFormatterVideo(b *testing.B) {
	raw := decode(b, mockupstream.VideoBody(42), "data").(map[string]any)
	f := formatter.NewVideoFormatter()
	b.ReportAllocs()
	for b.Loop() {
		v, albumID, err := f.Format(raw)
		if err != nil || v.Duration != 2530 || albumID == 0 {
			b.Fatalf("%+v %d %v", v, albumID, err)
		}
	}
}

func BenchmarkFormatterAlbum(b *testing.B) {
	raw := decode(b, mockupstream.AlbumBody(1042), "result").(map[string]any)
	f := formatter.NewAlbumFormatter()
	b.ReportAllocs()
	for b.Loop() {
		a, err := f.Format(raw)
		if err != nil || a.Episodes != 40 {
			b.Fatalf("%+v %v", a, err)
		}
	}
}

func BenchmarkFormatterStars(b *testing.B) {
	items := decode(b, mockupstream.StarsBody(42), "items").([]any)
	f := formatter.NewStarFormatter()
	b.ReportAllocs()
	for b.Loop() {
		s, err := f.Format(items)
		if err != nil || len(s) != 3 {
			b.Fatalf("%+v %v", s, err)
		}
	}
}

// BenchmarkFormatterVideoDecode is the JSON decoding of team A's body into
// map[string]any that precedes formatting on every request.
func BenchmarkFormatterVideoDecode(b *testing.B) {
	body := mockupstream.VideoBody(42)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		decode(b, body, "data")
	}
}

package formatter_test

import (
	"encoding/json"
	"testing"

	"github.com/wings-bff/wings/app/formatter"
	"github.com/wings-bff/wings/app/mockupstream"
)

// decode reads a mock team's body the way the daos do and returns the
// member at key, undecoded.
func decode(tb testing.TB, body []byte, key string) json.RawMessage {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatal(err)
	}
	v, ok := m[key]
	if !ok {
		tb.Fatalf("no %q in %s", key, body)
	}
	return v
}

func BenchmarkFormatterVideo(b *testing.B) {
	raw := decode(b, mockupstream.VideoBody(42), "data")
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
	raw := decode(b, mockupstream.AlbumBody(1042), "result")
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
	var items []json.RawMessage
	if err := json.Unmarshal(decode(b, mockupstream.StarsBody(42), "items"), &items); err != nil {
		b.Fatal(err)
	}
	f := formatter.NewStarFormatter()
	b.ReportAllocs()
	for b.Loop() {
		s, err := f.Format(items)
		if err != nil || len(s) != 3 {
			b.Fatalf("%+v %v", s, err)
		}
	}
}

// BenchmarkFormatterVideoDecode is the dao's decoding of team A's envelope
// (the payload stays raw) that precedes formatting on every request.
func BenchmarkFormatterVideoDecode(b *testing.B) {
	body := mockupstream.VideoBody(42)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		decode(b, body, "data")
	}
}

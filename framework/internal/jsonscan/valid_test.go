package jsonscan

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

var validCases = []string{
	`{}`, `[]`, `0`, `-0`, `1.5e+10`, `"s"`, `true`, `false`, `null`, ` {"a" : [1, {"b":null}, "x\u00e9\n"]} `,
	`{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`, `"\x"`, `"\u12"`, "\"a\x01\"",
	`{"a":1}}`, `[[[]]`, ``, ` `, `nul`, `truee`, `{"a":1} x`, `"unterminated`, "\"\xff\xfe\"", `[-01]`, `{"":""}`,
	`[1e5, -2E-3, 0.0]`, `{"a":[{"b":[{"c":{}}]}]}`, `[,1]`, `{,}`, `{"a":}`, `[true false]`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range append(validCases, string(sampleBody())) {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v; encoding/json says %v", c, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v; encoding/json says %v", b, got, want)
		}
	})
}

// sampleBody is shaped like team A's answer: an envelope around an object
// of some thirty members of every kind.
func sampleBody() []byte {
	data := map[string]any{"qipuId": 42, "videoName": "Video 42", "duration": "00:42:10",
		"imageUrl": "https://img.example/v/42.jpg", "playCount": 1234567, "albumId": 7,
		"categories": []string{"drama", "romance", "\u2028 escaped"}}
	for i := range 25 {
		data[fmt.Sprintf("extra%02d", i)] = map[string]any{"n": i, "f": 1.5 * float64(i), "s": strings.Repeat("x", i), "b": i%2 == 0, "z": nil}
	}
	b, _ := json.Marshal(map[string]any{"code": "A00000", "data": data})
	return b
}

func BenchmarkValid(b *testing.B) {
	body := sampleBody()
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			json.Valid(body)
		}
	})
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			Valid(body)
		}
	})
}

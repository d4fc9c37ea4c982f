package jsonscan

import (
	"fmt"
	"strings"
	"testing"
)

// skipStringLoop is the byte-at-a-time definition SkipString implements.
func skipStringLoop(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, ErrSyntax
}

func checkSkipString(t *testing.T, b []byte) {
	t.Helper()
	for i := range b {
		if b[i] != '"' {
			continue
		}
		got, gerr := SkipString(b, i)
		want, werr := skipStringLoop(b, i)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Fatalf("SkipString(%q, %d) = %d, %v; want %d, %v", b, i, got, gerr, want, werr)
		}
	}
}

func TestSkipString(t *testing.T) {
	for _, s := range []string{
		`""`, `"abc"`, `"a\"b"`, `"a\\"b"`, `"a\\\"b"`, `"a\\\\"`, `"\"`, `"\\"`, `"\`, `"`, `"abc`,
		`"a\u0022b"`, `"x\\\\\\\"y\\"z"`, `"é\n"`, `{"k":"v","k2":"v\"2"}`, sampleString(),
	} {
		checkSkipString(t, []byte(s))
	}
}

func sampleString() string { return string(sampleBody()) }

func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"a\"b"`, `"a\\"b"`, `"\`, `"x\\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSkipString(t, b) })
}

// BenchmarkSkipString skips every string of a body next to the
// byte-at-a-time definition: sampleBody has mostly short strings, teamA
// values of some 35 bytes each, as team A's answers do.
func BenchmarkSkipString(b *testing.B) {
	var teamA strings.Builder
	teamA.WriteString(`{"code":"A00000","data":{"qipuId":42,"videoName":"Video 42"`)
	for i := range 25 {
		fmt.Fprintf(&teamA, `,"extField%02d":"team A internal value %d for video 42"`, i, i)
	}
	teamA.WriteString("}}")
	for _, body := range []struct {
		name string
		b    []byte
	}{{"sample", sampleBody()}, {"teamA", []byte(teamA.String())}} {
		var starts []int
		for i := 0; i < len(body.b); i++ {
			if body.b[i] == '"' {
				starts = append(starts, i)
				j, _ := skipStringLoop(body.b, i)
				i = j - 1
			}
		}
		for _, bc := range []struct {
			name string
			skip func([]byte, int) (int, error)
		}{{"loop", skipStringLoop}, {"SkipString", SkipString}} {
			b.Run(body.name+"/"+bc.name, func(b *testing.B) {
				for b.Loop() {
					for _, s := range starts {
						if _, err := bc.skip(body.b, s); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

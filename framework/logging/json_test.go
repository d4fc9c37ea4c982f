package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func entry(msg string, fields logrus.Fields) *logrus.Entry {
	l := logrus.New()
	e := logrus.NewEntry(l).WithFields(fields)
	e.Message, e.Level = msg, logrus.WarnLevel
	e.Time = time.Date(2026, 11, 21, 23, 59, 58, 123, time.FixedZone("CST", 8*3600))
	return e
}

// sameLine formats e with both formatters and compares the parsed JSON.
func sameLine(t *testing.T, e *logrus.Entry) []byte {
	t.Helper()
	var ref logrus.JSONFormatter
	want, err := ref.Format(e)
	if err != nil {
		t.Fatalf("logrus: %v", err)
	}
	want = bytes.Clone(want)
	got, err := (&jsonFormatter{}).Format(e)
	if err != nil {
		t.Fatalf("fast: %v", err)
	}
	if !bytes.HasSuffix(got, []byte("\n")) || bytes.Count(got, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", got)
	}
	var w, g map[string]any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("fast output is not JSON: %v\n%s", err, got)
	}
	if !reflect.DeepEqual(w, g) {
		t.Fatalf("lines differ:\nlogrus %s\nfast   %s", want, got)
	}
	return got
}

func TestJSONFormatterMatchesLogrus(t *testing.T) {
	for _, fields := range []logrus.Fields{
		{},
		{"request_id": "abc-1", "method": "GET", "route": "/api/video/:id", "status": 200, "latency_ms": 1.234, "bytes": int64(512)},
		{"error": errors.New(`upstream "video": <timeout> & more`), "error_kind": "upstream_timeout"},
		{"time": "clash", "msg": 1, "level": true, "logrus_error": "x"},
		{"s": "tab\tnl\nquote\" back\\ ctl\x01 html<>& \u2028\u2029 é 😀 bad\xff", "nil": nil},
		{"tiny": 1e-9, "huge": 1e22, "neg": -0.5, "zero": 0.0, "f32": float32(1.5), "u": uint64(math.MaxUint64), "i8": int8(-8)},
		{"dur": 1500 * time.Millisecond, "b": false},
		{"nested": map[string]any{"a": 1}, "slice": []int{1, 2}}, // falls back
		{"nan": math.NaN()},                         // falls back (logrus errors too)
		{"fields.time": "literal", "time": "clash"}, // falls back
	} {
		if _, isNaN := fields["nan"]; isNaN {
			if _, err := (&jsonFormatter{}).Format(entry("m", fields)); err == nil {
				t.Error("NaN: want logrus's error")
			}
			continue
		}
		sameLine(t, entry("request <ok> \"done\"", fields))
	}
}

func TestJSONFormatterKeysSorted(t *testing.T) {
	got := string(sameLine(t, entry("request", logrus.Fields{"b": 1, "a": 2, "z": 3})))
	order := []string{`"a":`, `"b":`, `"level":`, `"msg":`, `"time":`, `"z":`}
	last := -1
	for _, k := range order {
		i := strings.Index(got, k)
		if i < last {
			t.Fatalf("keys not sorted like logrus's: %s", got)
		}
		last = i
	}
}

func FuzzJSONFormatter(f *testing.F) {
	f.Add("request", "abc", "x\u2028y", 3.5)
	f.Fuzz(func(t *testing.T, msg, key, val string, num float64) {
		if math.IsNaN(num) || math.IsInf(num, 0) || strings.HasPrefix(key, "fields.") {
			return
		}
		sameLine(t, entry(msg, logrus.Fields{key: val, "n": num}))
	})
}

func BenchmarkAccessLogLine(b *testing.B) {
	fields := logrus.Fields{"request_id": "0123456789abcdef", "method": "GET", "route": "/api/video/:id",
		"status": 200, "latency_ms": 12.345, "bytes": int64(412)}
	for _, tc := range []struct {
		name string
		f    logrus.Formatter
	}{{"logrus", &logrus.JSONFormatter{}}, {"wings", &jsonFormatter{}}} {
		b.Run(tc.name, func(b *testing.B) {
			e := entry("request", fields)
			b.ReportAllocs()
			for b.Loop() {
				e.Buffer = new(bytes.Buffer)
				if _, err := tc.f.Format(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

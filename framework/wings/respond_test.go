package wings_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/wings-bff/wings/framework/wings"
)

type marshalerValue struct{ s string }

func (m marshalerValue) MarshalJSON() ([]byte, error) {
	return []byte(` { "m" : "` + m.s + `" } `), nil
}

// JSON writes exactly what json.Marshal makes (its buffers are reused
// between requests, its output is not), and fails as Marshal does.
func TestJSONIsMarshal(t *testing.T) {
	t.Parallel()
	values := []any{
		map[string]any{"html": "<a href=\"x\">&</a>", "u": "\u2028 é \x01", "n": 1.5, "big": int64(1) << 60},
		[]any{nil, true, "s", marshalerValue{"x"}},
		struct {
			A string `json:"a,omitempty"`
			B []int  `json:"b"`
		}{B: []int{1, 2}},
		strings.Repeat("long ", 20000), // beyond the size of buffer kept for reuse
		"after the long one",
	}
	var i int
	rt, _ := newRuntime(t, nil,
		wings.Route{Method: http.MethodGet, Path: "/raw", Raw: true, Handler: func(c echo.Context) error { return wings.JSON(c, values[i]) }},
		wings.Route{Method: http.MethodGet, Path: "/bad", Handler: func(c echo.Context) error { return wings.JSON(c, map[string]any{"c": make(chan int)}) }},
	)
	for i = range values {
		want, err := json.Marshal(values[i])
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second time through a reused encoder
			if w := do(rt, http.MethodGet, "/raw"); w.Code != 200 || w.Body.String() != string(want) {
				t.Fatalf("value %d: %d %.200s; want %.200s", i, w.Code, w.Body, want)
			}
		}
	}
	if w := do(rt, http.MethodGet, "/bad"); w.Code != http.StatusInternalServerError {
		t.Errorf("unmarshallable value: %d %s; want 500", w.Code, w.Body)
	}
}

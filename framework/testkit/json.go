package testkit

import (
	"encoding/json"
	"math"
	"strings"
)

// SameJSON reports whether a and b, decoded JSON (what json.Unmarshal into
// an any gives, with or without UseNumber), hold the same answer: the same
// keys, strings, booleans and integers, and numbers with a fraction within
// a relative tol of each other. Two stores that sum the same Float64
// values in another order (shards against one server, parts merged
// differently) differ in the last bits of such sums, never in counts.
func SameJSON(a, b any, tol float64) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !SameJSON(v, w, tol) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !SameJSON(x[i], y[i], tol) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		if !strings.ContainsAny(string(x)+string(y), ".eE") {
			return false // integers: exact
		}
		f, err1 := x.Float64()
		g, err2 := y.Float64()
		return err1 == nil && err2 == nil && near(f, g, tol)
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		if x == math.Trunc(x) && y == math.Trunc(y) {
			return false // integers: exact
		}
		return near(x, y, tol)
	default:
		return a == b
	}
}

func near(f, g, tol float64) bool {
	return math.Abs(f-g) <= tol*math.Max(math.Abs(f), math.Abs(g))
}

package testkit

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestSameJSON(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"avg":34.7747460937,"pv":1024}`, `{"pv":1024,"avg":34.7747460938}`, true},
		{`{"avg":34.7747460937}`, `{"avg":34.7747461937}`, false},
		{`{"pv":1024}`, `{"pv":1025}`, false},
		{`{"uv":10000000001}`, `{"uv":10000000002}`, false},
		{`{"x":1e3}`, `{"x":1000.0000000001}`, true},
		{`[1,2]`, `[1,2,3]`, false},
		{`{"a":[1.5]}`, `{"a":["1.5"]}`, false},
		{`{"a":1}`, `{"b":1}`, false},
		{`{"a":null,"b":true}`, `{"a":null,"b":true}`, true},
		{`{"b":true}`, `{"b":false}`, false},
	} {
		for _, useNumber := range []bool{true, false} {
			a, b := decode(t, tc.a, useNumber), decode(t, tc.b, useNumber)
			if got := SameJSON(a, b, 1e-9); got != tc.same {
				t.Errorf("SameJSON(%s, %s) UseNumber=%v = %v; want %v", tc.a, tc.b, useNumber, got, tc.same)
			}
		}
	}
}

func decode(t *testing.T, s string, useNumber bool) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	if useNumber {
		d.UseNumber()
	}
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

package cluster

import "testing"

// TestSameJSON: the comparison of TestSameAnswers is exact but for the
// last bits of fractional numbers.
func TestSameJSON(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"avg_value":34.7747460937,"pv":1024}`, `{"pv":1024,"avg_value":34.7747460938}`, true},
		{`{"avg_value":34.7747460937}`, `{"avg_value":34.7747461937}`, false},
		{`{"pv":1024}`, `{"pv":1025}`, false},
		{`{"uv":10000000001}`, `{"uv":10000000002}`, false},
		{`{"source":"live","computed_at":"x","pv":1}`, `{"source":"precomputed","pv":1,"stale":true}`, true},
		{`{"source":"funnel_state","pv":1}`, `{"source":"raw","pv":1}`, false},
		{`[1,2]`, `[1,2,3]`, false},
		{`{"a":[1.5]}`, `{"a":["1.5"]}`, false},
		{`{"a":1}`, `{"b":1}`, false},
	} {
		a, err := normalize([]byte(tc.a))
		if err != nil {
			t.Fatal(err)
		}
		b, err := normalize([]byte(tc.b))
		if err != nil {
			t.Fatal(err)
		}
		if got := sameJSON(a, b); got != tc.same {
			t.Errorf("sameJSON(%s, %s) = %v; want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

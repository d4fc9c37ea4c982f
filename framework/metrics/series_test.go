package metrics

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Concurrent counting through kept series lands on the vector's children.
func TestSeriesCountsIntoTheVector(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t_total"}, []string{"a", "b"})
	var s Series[[2]string, prometheus.Counter]
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := [2]string{"x", []string{"hit", "miss"}[i%2]}
			for range 100 {
				c, ok := s.Load(k)
				if !ok {
					c = s.Store(k, vec.WithLabelValues(k[0], k[1]))
				}
				c.Inc()
			}
		}()
	}
	wg.Wait()
	if hit, miss := testutil.ToFloat64(vec.WithLabelValues("x", "hit")), testutil.ToFloat64(vec.WithLabelValues("x", "miss")); hit != 400 || miss != 400 {
		t.Fatalf("hit %g miss %g; want 400 each", hit, miss)
	}
	if c, ok := s.Load([2]string{"x", "hit"}); !ok || c != vec.WithLabelValues("x", "hit") {
		t.Error("the series was not kept")
	}
}

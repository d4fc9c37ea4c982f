package fanout

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGroup is the shape of GET /api/video/:id: two calls, one of them
// optional, and a call chained on the first, under a request deadline.
func BenchmarkGroup(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = WithObserver(ctx, nopObserver{})
	one := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		g := New(ctx)
		a := Go(g, "a", one)
		o := Go(g, "o", one, Optional())
		c := Then(g, "c", a, func(_ context.Context, v int) (int, error) { return v + 1, nil })
		if err := g.Wait(); err != nil || a.Value()+o.Value()+c.Value() != 4 {
			b.Fatal(err)
		}
	}
}

type nopObserver struct{}

func (nopObserver) Degraded(context.Context, string, error) {}
func (nopObserver) Stale(context.Context, string, error)    {}

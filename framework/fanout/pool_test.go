package fanout

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/reqctx"
)

// call is a starter that runs fn once.
type call struct {
	once sync.Once
	fn   func()
}

func (c *call) Run() { c.once.Do(c.fn) }

// A call never waits for a pool goroutine: with the pool's only goroutine
// busy, further calls still run at once and concurrently.
func TestPoolNeverQueues(t *testing.T) {
	t.Parallel()
	p := NewPool(1)
	defer p.Close()
	const n = 4
	started := make(chan struct{}, n)
	release := make(chan struct{})
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		p.Start(&call{fn: func() {
			defer done.Done()
			started <- struct{}{}
			<-release
		}})
	}
	for i := range n {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d calls started; the others waited for a goroutine", i, n)
		}
	}
	close(release)
	done.Wait()
	if w := p.workers.Load(); w > 1 {
		t.Errorf("pool goroutines = %d; want at most its maximum, 1", w)
	}
}

// A goroutine of the pool runs the calls handed to it one after another;
// after Close the goroutines exit and calls still run.
func TestPoolReusesAndCloses(t *testing.T) {
	t.Parallel()
	p := NewPool(2)
	ran := make(chan int)
	for i := range 50 {
		p.Start(&call{fn: func() { ran <- i }})
		if got := <-ran; got != i {
			t.Fatalf("ran call %d; want %d", got, i)
		}
	}
	if w := p.workers.Load(); w < 1 || w > 2 {
		t.Errorf("pool goroutines = %d; want 1 or 2 kept for reuse", w)
	}
	p.Close()
	p.exited.Wait() // every call has ended: all goroutines of the pool exit
	if w := p.workers.Load(); w != 0 {
		t.Fatalf("pool goroutines = %d after Close; want 0", w)
	}
	p.Start(&call{fn: func() { ran <- -1 }})
	if got := <-ran; got != -1 {
		t.Fatalf("after Close: ran %d; want the new call", got)
	}
}

// A group made under a request record with a pool starts its calls there,
// with the same results, failures and degradations as without one.
func TestGroupOnPool(t *testing.T) {
	t.Parallel()
	p := NewPool(4)
	defer p.Close()
	ctx, in := reqctx.Begin(context.Background(), "req-1")
	in.Pool = p
	boom := errors.New("boom")
	for range 20 {
		g := New(ctx)
		if g.pool != p {
			t.Fatal("group does not use the request's pool")
		}
		a := Go(g, "a", func(context.Context) (int, error) { return 1, nil })
		o := Go(g, "o", func(context.Context) (int, error) { return 0, boom }, Optional())
		c := Then(g, "c", a, func(_ context.Context, v int) (int, error) { return v + 1, nil })
		d := Then(g, "d", a, func(_ context.Context, v int) (int, error) { return v + 2, nil })
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if a.Value() != 1 || c.Value() != 2 || d.Value() != 3 || o.Value() != 0 {
			t.Fatalf("values %d %d %d %d; want 1 2 3 0", a.Value(), c.Value(), d.Value(), o.Value())
		}
		if deg := g.Degraded(); len(deg) != 1 || deg[0] != "o" {
			t.Fatalf("degraded = %v; want [o]", deg)
		}
		g = New(ctx)
		Go(g, "r", func(context.Context) (int, error) { return 0, boom })
		if err := g.Wait(); !errors.Is(err, boom) {
			t.Fatalf("required failure: %v; want boom", err)
		}
	}
}

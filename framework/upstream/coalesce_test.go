package upstream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// A leader that panics still ends its flight: waiting followers take the
// call over instead of hanging, and the panic reaches the leader.
func TestCoalescerLeaderPanic(t *testing.T) {
	t.Parallel()
	var g coalescer
	entered, release := make(chan struct{}), make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _, _, _ = g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
			close(entered)
			<-release
			panic("boom")
		})
	}()
	<-entered
	var wg sync.WaitGroup
	results := make([]string, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _, _, err := g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
				return []byte("ok"), nil
			})
			if err != nil {
				results[i] = err.Error()
				return
			}
			results[i] = string(b)
		}()
	}
	waitFollowers(t, &g, len(results)) // every follower has joined the flight
	close(release)
	if p := <-panicked; p != "boom" {
		t.Fatalf("leader recovered %v; want the panic", p)
	}
	wg.Wait()
	for i, r := range results {
		if r != "ok" {
			t.Errorf("follower %d got %q; want ok from the call it took over", i, r)
		}
	}
}

// A leader's failure that is not its own cancellation is shared as is.
func TestCoalescerSharesErrors(t *testing.T) {
	t.Parallel()
	var g coalescer
	entered, release := make(chan struct{}), make(chan struct{})
	boom := errors.New("upstream said no")
	go func() {
		_, _, _, _ = g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
			close(entered)
			<-release
			return nil, boom
		})
	}()
	<-entered
	done := make(chan error, 1)
	go func() {
		_, shared, _, err := g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
			t.Error("the follower made its own call")
			return nil, nil
		})
		if !shared {
			err = errors.New("not shared")
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-done; !errors.Is(err, boom) {
		t.Fatalf("follower error = %v; want the leader's", err)
	}
}

// sole is true only for a leader whose body nobody else received.
func TestCoalescerSole(t *testing.T) {
	t.Parallel()
	var g coalescer
	ok := func(context.Context) ([]byte, error) { return []byte("x"), nil }
	if _, shared, sole, _ := g.do(context.Background(), "k", ok); shared || !sole {
		t.Fatalf("lone caller: shared %v sole %v; want false, true", shared, sole)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	leader := make(chan bool, 1)
	go func() {
		_, _, sole, _ := g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
			close(entered)
			<-release
			return []byte("y"), nil
		})
		leader <- sole
	}()
	<-entered
	follower := make(chan [2]bool, 1)
	go func() {
		_, shared, sole, _ := g.do(context.Background(), "k", ok)
		follower <- [2]bool{shared, sole}
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if sole := <-leader; sole {
		t.Error("leader with a follower: sole; its body was shared")
	}
	if f := <-follower; !f[0] || f[1] {
		t.Errorf("follower: shared %v sole %v; want true, false", f[0], f[1])
	}
}

// A call nobody joins costs its flight record only: the channel followers
// wait on is made by the first follower.
func TestCoalescerLoneCallAllocs(t *testing.T) {
	var g coalescer
	body := []byte("x")
	fn := func(context.Context) ([]byte, error) { return body, nil }
	g.do(context.Background(), "k", fn) // makes the map
	if n := testing.AllocsPerRun(100, func() { g.do(context.Background(), "k", fn) }); n > 1 {
		t.Errorf("lone call: %v allocations; want at most 1 (the flight)", n)
	}
}

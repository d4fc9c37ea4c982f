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
		_, _, _ = g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
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
			b, _, err := g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
				return []byte("ok"), nil
			})
			if err != nil {
				results[i] = err.Error()
				return
			}
			results[i] = string(b)
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them join the flight
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
		_, _, _ = g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
			close(entered)
			<-release
			return nil, boom
		})
	}()
	<-entered
	done := make(chan error, 1)
	go func() {
		_, shared, err := g.do(context.Background(), "k", func(context.Context) ([]byte, error) {
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

package upstream

import (
	"context"
	"sync"
)

// coalescer shares one call among identical concurrent GETs, like
// x/sync/singleflight, but runs the call in the first caller's own
// goroutine under that caller's context. singleflight's DoChan (the only
// form that lets each caller stop waiting at its own deadline) starts a
// goroutine per call, and a fresh goroutine grows its stack through
// resty and net/http on every call (docs/benchmarks.md). Here a leader that goes away (client cancelled, its
// deadline passed) ends the flight as abandoned, and each follower still
// waiting takes the call over: one of them becomes the new leader. So one
// caller's cancellation never fails the others; it can cost one more
// upstream call, and only when there were followers.
type coalescer struct {
	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	// done is closed when the flight ends. It is made by the first
	// follower, under coalescer.mu: most calls have none, and the channel
	// would be an allocation per call for nothing.
	done      chan struct{}
	body      []byte
	err       error
	abandoned bool // the leader's context ended before the call did
	followers int  // callers that waited for it; under coalescer.mu
}

// do returns fn's result for key, calling fn in this goroutine unless an
// identical call is in flight, in which case it waits for that one (or
// for its own ctx: then the error is ctx.Err() itself). shared reports
// that the result came from another caller's call; sole that this caller
// made the call and nobody else received its body, so it may keep
// references into it.
func (g *coalescer) do(ctx context.Context, key string, fn func(ctx context.Context) ([]byte, error)) (body []byte, shared, sole bool, err error) {
	for {
		g.mu.Lock()
		if f, ok := g.flights[key]; ok {
			f.followers++
			if f.done == nil {
				f.done = make(chan struct{})
			}
			done := f.done
			g.mu.Unlock()
			select {
			case <-done:
				if f.abandoned && ctx.Err() == nil {
					continue // the leader went away: take the call over
				}
				return f.body, true, false, f.err
			case <-ctx.Done():
				return nil, false, false, ctx.Err()
			}
		}
		f := &flight{abandoned: true}
		if g.flights == nil {
			g.flights = make(map[string]*flight)
		}
		g.flights[key] = f
		g.mu.Unlock()
		g.lead(ctx, key, f, fn)
		g.mu.Lock() // the flight has left the map: no one joins any more
		sole := f.followers == 0
		g.mu.Unlock()
		return f.body, false, sole, f.err
	}
}

// lead runs fn for f and publishes its result, even if fn panics (the
// followers then take the call over).
func (g *coalescer) lead(ctx context.Context, key string, f *flight, fn func(ctx context.Context) ([]byte, error)) {
	defer func() {
		g.mu.Lock()
		delete(g.flights, key)
		done := f.done // no follower can join any more
		g.mu.Unlock()
		if done != nil {
			close(done)
		}
	}()
	f.body, f.err = fn(ctx)
	f.abandoned = f.err != nil && ctx.Err() != nil
}

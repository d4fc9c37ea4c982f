// Package fanout runs a request's upstream calls concurrently, including
// calls that depend on another call's result, under the request's context.
//
//	g := fanout.New(ctx)
//	video := fanout.Go(g, "video", d.video.Get)
//	stars := fanout.Go(g, "stars", d.stars.List)
//	album := fanout.Then(g, "album", video, func(ctx context.Context, v *model.Video) (*model.Album, error) {
//		return d.album.Get(ctx, v.AlbumID)
//	})
//	if err := g.Wait(); err != nil { return err }
//
// The first failure cancels the others; Wait returns it.
package fanout

import (
	"context"
	"sync"
)

// Group is a set of concurrent calls sharing one cancellable context.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// New returns a group whose calls run under a child of ctx, cancelled when
// any call fails or when Wait returns.
func New(ctx context.Context) *Group {
	ctx, cancel := context.WithCancel(ctx)
	return &Group{ctx: ctx, cancel: cancel}
}

// Context is the group's context.
func (g *Group) Context() context.Context { return g.ctx }

func (g *Group) fail(err error) {
	g.once.Do(func() {
		g.err = err
		g.cancel()
	})
}

// Wait waits for every call and returns the first error.
func (g *Group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// Future is the result of one call in a group.
type Future[T any] struct {
	name string
	done chan struct{}
	val  T
	err  error
}

// Name is the call's name.
func (f *Future[T]) Name() string { return f.name }

// Result waits for the call and returns its value and error.
func (f *Future[T]) Result() (T, error) {
	<-f.done
	return f.val, f.err
}

// Value returns the value after Wait; the zero value if the call failed.
func (f *Future[T]) Value() T {
	<-f.done
	return f.val
}

// Go starts fn in g.
func Go[T any](g *Group, name string, fn func(ctx context.Context) (T, error)) *Future[T] {
	f := &Future[T]{name: name, done: make(chan struct{})}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(f.done)
		f.val, f.err = fn(g.ctx)
		if f.err != nil {
			g.fail(f.err)
		}
	}()
	return f
}

// Then starts fn in g once parent has succeeded, passing its value. If the
// parent fails, fn does not run and the future carries the parent's error.
func Then[P, T any](g *Group, name string, parent *Future[P], fn func(ctx context.Context, p P) (T, error)) *Future[T] {
	return Go(g, name, func(ctx context.Context) (T, error) {
		p, err := parent.Result()
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(ctx, p)
	})
}

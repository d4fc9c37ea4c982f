package fanout_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/fanout"
)

// safety bounds a wait that only a broken implementation would reach.
const safety = 5 * time.Second

func TestCallsOverlap(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	// Each call finishes only once the other has started: sequential
	// execution would never get there.
	meet := func(mine, other chan struct{}, v int) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			close(mine)
			select {
			case <-other:
				return v, nil
			case <-time.After(safety):
				return 0, errors.New("the other call never started: calls do not overlap")
			}
		}
	}
	a := fanout.Go(g, "a", meet(aStarted, bStarted, 1))
	b := fanout.Go(g, "b", meet(bStarted, aStarted, 2))
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if a.Value() != 1 || b.Value() != 2 {
		t.Errorf("values = %d, %d; want 1, 2", a.Value(), b.Value())
	}
	if a.Name() != "a" || b.Name() != "b" {
		t.Errorf("names = %q, %q", a.Name(), b.Name())
	}
}

func TestThenGetsParentValue(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	video := fanout.Go(g, "video", func(context.Context) (int64, error) { return 1042, nil })
	album := fanout.Then(g, "album", video, func(_ context.Context, albumID int64) (string, error) {
		if albumID != 1042 {
			return "", errors.New("wrong parent value")
		}
		return "Album 1042", nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, err := album.Result(); got != "Album 1042" || err != nil {
		t.Errorf("album = %q, %v; want Album 1042", got, err)
	}
}

func TestParentFailureSkipsChild(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	errA := errors.New("team A down")
	var childRan atomic.Bool
	video := fanout.Go(g, "video", func(context.Context) (int64, error) { return 0, errA })
	album := fanout.Then(g, "album", video, func(context.Context, int64) (string, error) {
		childRan.Store(true)
		return "x", nil
	})
	if err := g.Wait(); !errors.Is(err, errA) {
		t.Fatalf("Wait = %v; want the parent's error", err)
	}
	if childRan.Load() {
		t.Error("child ran after its parent failed")
	}
	if v, err := album.Result(); v != "" || !errors.Is(err, errA) {
		t.Errorf("child = %q, %v; want zero value and the parent's error", v, err)
	}
}

func TestFailureCancelsSiblings(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	errC := errors.New("team C down")
	blocked := make(chan struct{})
	slow := fanout.Go(g, "slow", func(ctx context.Context) (int, error) {
		close(blocked)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(safety):
			return 1, nil
		}
	})
	fanout.Go(g, "failing", func(context.Context) (int, error) {
		<-blocked // fail only once the sibling waits on its context
		return 0, errC
	})
	if err := g.Wait(); !errors.Is(err, errC) {
		t.Fatalf("Wait = %v; want the first error, not the sibling's cancellation", err)
	}
	if _, err := slow.Result(); !errors.Is(err, context.Canceled) {
		t.Errorf("sibling err = %v; want context.Canceled", err)
	}
	if g.Context().Err() == nil {
		t.Error("group context still live after a failure")
	}
}

func TestRequestCancellationReachesCalls(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	g := fanout.New(ctx)
	started := make(chan struct{})
	f := fanout.Go(g, "call", func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started
	cancel() // the request ended
	if err := g.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v; want context.Canceled", err)
	}
	if _, err := f.Result(); !errors.Is(err, context.Canceled) {
		t.Errorf("call err = %v", err)
	}
}

func TestWaitCancelsGroupContext(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	fanout.Go(g, "a", func(context.Context) (int, error) { return 1, nil })
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if g.Context().Err() == nil {
		t.Error("group context live after Wait; background work would leak")
	}
}

func TestEmptyGroup(t *testing.T) {
	t.Parallel()
	if err := fanout.New(context.Background()).Wait(); err != nil {
		t.Errorf("Wait on an empty group = %v", err)
	}
}

// TestDependentsOfOneParentOverlap: the first dependent continues in the
// parent's goroutine, but a second one must not wait behind it.
func TestDependentsOfOneParentOverlap(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	parent := fanout.Go(g, "parent", func(context.Context) (int, error) { return 7, nil })
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	meet := func(mine, other chan struct{}) func(context.Context, int) (int, error) {
		return func(_ context.Context, p int) (int, error) {
			close(mine)
			select {
			case <-other:
				return p, nil
			case <-time.After(safety):
				return 0, errors.New("the sibling never started: dependents ran one after the other")
			}
		}
	}
	a := fanout.Then(g, "a", parent, meet(aStarted, bStarted))
	b := fanout.Then(g, "b", parent, meet(bStarted, aStarted))
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if a.Value() != 7 || b.Value() != 7 {
		t.Errorf("a, b = %d, %d; want the parent's 7", a.Value(), b.Value())
	}
}

// TestThenAfterParentFinished: a dependent added once its parent is done
// still runs and Wait waits for it.
func TestThenAfterParentFinished(t *testing.T) {
	t.Parallel()
	g := fanout.New(context.Background())
	parent := fanout.Go(g, "parent", func(context.Context) (string, error) { return "p", nil })
	if _, err := parent.Result(); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	child := fanout.Then(g, "child", parent, func(_ context.Context, p string) (string, error) {
		ran.Store(true)
		return p + "c", nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if !ran.Load() || child.Value() != "pc" {
		t.Errorf("child ran=%v value=%q; want it run with the parent's value", ran.Load(), child.Value())
	}
}

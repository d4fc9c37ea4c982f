package fanout

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/reqctx"
)

type recObserver struct {
	mu              sync.Mutex
	degraded, stale []string
}

func (o *recObserver) Degraded(_ context.Context, s string, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.degraded = append(o.degraded, s)
}

func (o *recObserver) Stale(_ context.Context, s string, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stale = append(o.stale, s)
}

var errBoom = errors.New("boom")

func ok[T any](v T) func(context.Context) (T, error) {
	return func(context.Context) (T, error) { return v, nil }
}

func fail[T any]() func(context.Context) (T, error) {
	return func(context.Context) (T, error) { var z T; return z, errBoom }
}

func TestRequiredFailureFailsGroup(t *testing.T) {
	t.Parallel()
	g := New(context.Background())
	a := Go(g, "a", ok(1))
	b := Go(g, "b", fail[int]())
	if err := g.Wait(); !errors.Is(err, errBoom) {
		t.Fatalf("Wait = %v; want errBoom", err)
	}
	if a.Value() != 1 || b.Value() != 0 {
		t.Errorf("values = %d, %d", a.Value(), b.Value())
	}
}

func TestOptionalDegrades(t *testing.T) {
	t.Parallel()
	obs := &recObserver{}
	g := New(WithObserver(context.Background(), obs))
	a := Go(g, "a", ok("x"))
	stars := Go(g, "stars", fail[[]string](), Optional())
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait = %v; want nil", err)
	}
	if a.Value() != "x" || stars.Value() != nil {
		t.Errorf("values = %q, %v", a.Value(), stars.Value())
	}
	if _, err := stars.Result(); !errors.Is(err, errBoom) {
		t.Errorf("degraded future err = %v; want errBoom", err)
	}
	if got := g.Degraded(); !reflect.DeepEqual(got, []string{"stars"}) {
		t.Errorf("Degraded = %v; want [stars]", got)
	}
	if !reflect.DeepEqual(obs.degraded, []string{"stars"}) {
		t.Errorf("observer saw %v", obs.degraded)
	}
	if len(g.Stale()) != 0 {
		t.Errorf("Stale = %v; want none", g.Stale())
	}
}

func TestOptionalNotCountedWhenRequiredFailed(t *testing.T) {
	t.Parallel()
	obs := &recObserver{}
	g := New(WithObserver(context.Background(), obs))
	Go(g, "req", fail[int]())
	Go(g, "opt", func(ctx context.Context) (int, error) {
		<-ctx.Done() // cancelled by the required failure
		return 0, ctx.Err()
	}, Optional())
	if err := g.Wait(); !errors.Is(err, errBoom) {
		t.Fatalf("Wait = %v", err)
	}
	if len(obs.degraded) != 0 || len(g.Degraded()) != 0 {
		t.Errorf("degraded = %v; want none (a consequence of the required failure)", obs.degraded)
	}
}

type album struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
}

func TestStaleOK(t *testing.T) {
	t.Parallel()
	store := NewMemoryStore(2)
	obs := &recObserver{}
	ctx := WithObserver(context.Background(), obs)

	// Nothing kept yet: the failure fails the group.
	g := New(ctx)
	Go(g, "album", fail[album](), StaleOK(store, "album:1"))
	if err := g.Wait(); !errors.Is(err, errBoom) {
		t.Fatalf("first Wait = %v; want errBoom", err)
	}
	// A success is kept.
	g = New(ctx)
	Go(g, "album", ok(album{1, "One"}), StaleOK(store, "album:1"))
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	// The next failure answers it, listed as stale.
	g = New(ctx)
	f := Go(g, "album", fail[album](), StaleOK(store, "album:1"))
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait = %v; want stale answer", err)
	}
	if v, err := f.Result(); err != nil || v != (album{1, "One"}) {
		t.Errorf("Result = %v, %v; want the stale album", v, err)
	}
	if got := g.Stale(); !reflect.DeepEqual(got, []string{"album"}) {
		t.Errorf("Stale = %v", got)
	}
	if !reflect.DeepEqual(obs.stale, []string{"album"}) {
		t.Errorf("observer saw %v", obs.stale)
	}
	// The store is bounded.
	store.Set(ctx, "b", []byte("1"))
	store.Set(ctx, "c", []byte("1"))
	if store.Len() != 2 {
		t.Errorf("Len = %d; want 2", store.Len())
	}
	if _, ok := store.Get(ctx, "album:1"); ok {
		t.Error("oldest key survived beyond the bound")
	}
}

func TestThenOnDegradedParent(t *testing.T) {
	t.Parallel()
	g := New(context.Background())
	p := Go(g, "p", fail[int](), Optional())
	ran := false
	c := Then(g, "c", p, func(context.Context, int) (int, error) { ran = true; return 1, nil }, Optional())
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if ran || c.Value() != 0 {
		t.Error("dependent ran on a failed parent")
	}
	if got := g.Degraded(); !reflect.DeepEqual(got, []string{"c", "p"}) {
		t.Errorf("Degraded = %v; want [c p]", got)
	}
}

// TestOptionalCappedBelowDeadline: an optional call's deadline is
// OptionalShare of the budget, leaving room for the required work and the
// response within the route's deadline; required calls keep the whole budget.
func TestOptionalCappedBelowDeadline(t *testing.T) {
	t.Parallel()
	budget := 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	routeDL, _ := ctx.Deadline()
	g := New(ctx)
	deadlineOf := func(ctx context.Context) (time.Time, error) {
		dl, _ := ctx.Deadline()
		return dl, nil
	}
	opt := Go(g, "opt", deadlineOf, Optional())
	req := Go(g, "req", deadlineOf)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := req.Value(); !got.Equal(routeDL) {
		t.Errorf("required deadline = %v; want the route's %v", got, routeDL)
	}
	reserve := routeDL.Sub(opt.Value())
	want := time.Duration(float64(budget) * (1 - OptionalShare))
	if reserve < want-100*time.Millisecond || reserve > want+100*time.Millisecond {
		t.Errorf("optional call ends %s before the route deadline; want about %s", reserve, want)
	}
}

// A panicking call fails its request with an internal error instead of
// crashing the process (it runs out of reach of the Recover middleware);
// an optional one degrades.
func TestPanickingCall(t *testing.T) {
	for _, pooled := range []bool{false, true} {
		ctx := context.Background()
		if pooled {
			p := NewPool(4)
			defer p.Close()
			var in *reqctx.Info
			ctx, in = reqctx.Begin(ctx, "req-1")
			in.Pool = p
		}
		g := New(ctx)
		Go(g, "boom", func(context.Context) (int, error) {
			panic("a formatter bug")
		})
		err := g.Wait()
		if err == nil || apperr.KindOf(err) != apperr.KindInternal || !strings.Contains(err.Error(), "fan-out call boom panicked") {
			t.Errorf("pooled %v: required call panicked: Wait = %v (kind %v); want an internal error naming the call", pooled, err, apperr.KindOf(err))
		}

		g = New(ctx)
		v := Go(g, "ok", func(context.Context) (int, error) { return 7, nil })
		Go(g, "opt", func(context.Context) (int, error) { panic("optional boom") }, Optional())
		if err := g.Wait(); err != nil {
			t.Errorf("pooled %v: optional call panicked: Wait = %v; want nil", pooled, err)
		}
		if got := v.Value(); got != 7 || !reflect.DeepEqual(g.Degraded(), []string{"opt"}) {
			t.Errorf("pooled %v: value %d, degraded %v; want 7, [opt]", pooled, got, g.Degraded())
		}
	}
}

type panickyStore struct{}

func (panickyStore) Get(context.Context, string) ([]byte, bool) { panic("store get bug") }
func (panickyStore) Set(context.Context, string, []byte)        { panic("store set bug") }

type panickyObserver struct {
	mu       sync.Mutex
	panicked []string
}

func (*panickyObserver) Degraded(context.Context, string, error) { panic("observer bug") }
func (*panickyObserver) Stale(context.Context, string, error)    {}
func (o *panickyObserver) Panicked(_ context.Context, source string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.panicked = append(o.panicked, source)
}

// Code the group runs around a call (a stale store, the observer) may
// panic too, on the call's goroutine: the call fails with an internal
// error, the PanicObserver hears of it, and the process lives on.
func TestPanicAroundACall(t *testing.T) {
	for _, pooled := range []bool{false, true} {
		obs := &panickyObserver{}
		ctx := WithObserver(context.Background(), obs)
		if pooled {
			p := NewPool(4)
			defer p.Close()
			var in *reqctx.Info
			ctx, in = reqctx.Begin(ctx, "req-1")
			in.Pool = p
		}
		g := New(ctx)
		Go(g, "stale", func(context.Context) (int, error) { return 1, nil }, StaleOK(panickyStore{}, "k"))
		if err := g.Wait(); apperr.KindOf(err) != apperr.KindInternal {
			t.Errorf("pooled %v: store panicked: Wait = %v; want an internal error", pooled, err)
		}
		g = New(ctx)
		Go(g, "opt", func(context.Context) (int, error) { return 0, errors.New("down") }, Optional())
		if err := g.Wait(); apperr.KindOf(err) != apperr.KindInternal {
			t.Errorf("pooled %v: observer panicked: Wait = %v; want an internal error", pooled, err)
		}
		if !reflect.DeepEqual(obs.panicked, []string{"stale", "opt"}) {
			t.Errorf("pooled %v: Panicked heard %v; want [stale opt]", pooled, obs.panicked)
		}
	}
}

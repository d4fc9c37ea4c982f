// Package fanout runs a request's upstream calls concurrently, including
// calls that depend on another call's result, under the request's context.
//
//	g := fanout.New(ctx)
//	video := fanout.Go(g, "video", d.video.Get)
//	stars := fanout.Go(g, "stars", d.stars.List, fanout.Optional())
//	album := fanout.Then(g, "album", video, func(ctx context.Context, v *model.Video) (*model.Album, error) {
//		return d.album.Get(ctx, v.AlbumID)
//	})
//	if err := g.Wait(); err != nil { return err }
//	meta := render.Meta{Degraded: g.Degraded(), Stale: g.Stale()}
//
// Calls are required unless declared otherwise: the first failure of a
// required call cancels the others and Wait returns it. An Optional call
// that fails leaves its zero value and is listed by Degraded; a StaleOK call
// that fails answers its last good value for its key and is listed by Stale.
// Both are reported to the context's Observer (the Runtime counts them in
// wings_degraded_total and wings_stale_total).
//
// Budget: every call runs under the request's deadline, and each upstream
// call takes min(its own timeout, what is left). Optional and stale-ok calls
// are further capped at OptionalShare of the budget left when the group was
// made, so a slow optional source gives up early enough for the required
// work and the response to finish within the route's deadline.
package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/apperr"
	"github.com/wings-bff/wings/framework/logging"
	"github.com/wings-bff/wings/framework/recovery"
	"github.com/wings-bff/wings/framework/reqctx"
	"github.com/wings-bff/wings/framework/tracing"
)

// OptionalShare is the share of the group's remaining budget that optional
// and stale-ok calls may use; the rest is reserved so the route still
// answers (degraded) before its deadline.
const OptionalShare = 0.9

// Mode says what a failed call does to its group.
type Mode uint8

// The modes.
const (
	// ModeRequired fails the group (the default).
	ModeRequired Mode = iota
	// ModeOptional degrades to the zero value.
	ModeOptional
	// ModeStaleOK answers the last good value for the call's key; without
	// one it fails the group like a required call.
	ModeStaleOK
)

// Observer is told when a call degrades or is answered stale. The Runtime
// puts one, bound to the route, in every request's record (reqctx.Info);
// WithObserver overrides it for a context.
type Observer = reqctx.Observer

type observerKey struct{}

// WithObserver returns ctx carrying o for groups made under it.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// logObserver is used when the context has no Observer: it only logs.
type logObserver struct{}

func (logObserver) Degraded(ctx context.Context, source string, err error) {
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("optional source degraded")
}

func (logObserver) Stale(ctx context.Context, source string, err error) {
	logging.FromContext(ctx).WithField("source", source).WithError(err).Warn("stale-ok source answered stale")
}

// StaleStore keeps the last good result of stale-ok calls, JSON-encoded.
// MemoryStore is the bounded in-process one; a shared cache (Redis) can
// satisfy it too. Implementations bound their own latency.
type StaleStore interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Set(ctx context.Context, key string, val []byte)
}

// Group is a set of concurrent calls sharing one cancellable context.
type Group struct {
	ctx    context.Context
	cancel context.CancelFunc
	obs    Observer
	pool   reqctx.Pool // nil: calls start on goroutines of their own
	// optDeadline caps optional and stale-ok calls; zero without a deadline.
	optDeadline time.Time
	wg          sync.WaitGroup
	once        sync.Once
	err         error
	failed      atomic.Bool

	mu       sync.Mutex
	degraded []string
	stale    []string
	pending  []starter // calls started by Go, for Wait to run if no goroutine has yet
	// pendingBuf backs pending for the usual few calls of a group.
	pendingBuf [4]starter
}

// starter is a call ready to run: Run runs it unless it already ran.
type starter = reqctx.Runner

// New returns a group whose calls run under a child of ctx, cancelled when
// any required call fails or when Wait returns.
func New(ctx context.Context) *Group {
	g := &Group{obs: logObserver{}}
	g.pending = g.pendingBuf[:0]
	in := reqctx.From(ctx)
	if o, ok := ctx.Value(observerKey{}).(Observer); ok {
		g.obs = o
	} else if in != nil && in.Observer != nil {
		g.obs = in.Observer
	}
	if in != nil {
		g.pool = in.Pool
	}
	if dl, ok := ctx.Deadline(); ok {
		now := time.Now()
		g.optDeadline = now.Add(time.Duration(float64(dl.Sub(now)) * OptionalShare))
	}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

// spawn runs s concurrently, on a goroutine of the pool when there is one.
func (g *Group) spawn(s starter) {
	if g.pool != nil {
		g.pool.Start(s)
		return
	}
	go s.Run()
}

// Context is the group's context.
func (g *Group) Context() context.Context { return g.ctx }

func (g *Group) fail(err error) {
	g.once.Do(func() {
		g.failed.Store(true)
		g.err = err
		g.cancel()
	})
}

// Wait waits for every call and returns the first required failure.
//
// While it waits, it runs itself any call whose goroutine has not started
// yet (each call runs exactly once, whoever gets to it first). The waiting
// goroutine — for a handler, the connection's goroutine with a stack
// already grown by earlier requests — then does that work instead of
// idling while a fresh goroutine grows its stack through the upstream
// client; the calls still run concurrently, since each keeps its own
// goroutine ready.
func (g *Group) Wait() error {
	g.mu.Lock()
	pending := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, s := range pending {
		s.Run()
	}
	g.wg.Wait()
	g.cancel()
	return g.err
}

// Degraded lists the optional calls that failed, sorted; call it after Wait.
func (g *Group) Degraded() []string { return g.list(&g.degraded) }

// Stale lists the stale-ok calls answered from their last good value,
// sorted; call it after Wait.
func (g *Group) Stale() []string { return g.list(&g.stale) }

func (g *Group) list(l *[]string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := append([]string(nil), *l...)
	sort.Strings(out)
	return out
}

func (g *Group) record(l *[]string, name string) {
	g.mu.Lock()
	*l = append(*l, name)
	g.mu.Unlock()
}

// Option declares how a call may fail.
type Option func(*callOpts)

type callOpts struct {
	mode  Mode
	store StaleStore
	key   string
}

// Optional declares a call whose failure leaves its zero value and lists
// it in the group's Degraded instead of failing the group.
func Optional() Option { return func(o *callOpts) { o.mode = ModeOptional } }

// StaleOK declares a call whose last good value is kept in store under key
// and answered, listed in the group's Stale, when the call fails. With no
// value kept yet the failure fails the group.
func StaleOK(store StaleStore, key string) Option {
	return func(o *callOpts) { o.mode, o.store, o.key = ModeStaleOK, store, key }
}

// Future is the result of one call in a group. It also holds the call
// itself, so that starting it (from Go's goroutine, from Wait or from its
// parent) takes no closure of its own.
type Future[T any] struct {
	name    string
	g       *Group
	fn      func(ctx context.Context) (T, error)
	opts    callOpts
	claimed atomic.Bool    // the call has started (it runs exactly once)
	done    sync.WaitGroup // done when the call has ended: val and err are set
	val     T
	err     error

	mu       sync.Mutex
	finished bool
	next     starter   // the first dependent started by Then, run when the call ends
	more     []starter // further dependents
}

// start runs the call unless it has already started.
func (f *Future[T]) Run() {
	if f.claimed.CompareAndSwap(false, true) {
		f.run()
	}
}

// then starts s once f has finished: the first dependent in f's own
// goroutine (no new goroutine and stack for the common one-parent,
// one-child chain), any further ones in goroutines of their own, so
// siblings still run concurrently.
func (f *Future[T]) then(s starter) {
	f.mu.Lock()
	if !f.finished {
		if f.next == nil {
			f.next = s
		} else {
			f.more = append(f.more, s)
		}
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.g.spawn(s)
}

// runCall runs fn, turning a panic into an internal error: a call runs on a
// goroutine of its own (or of the pool), out of reach of the Recover
// middleware, and one bad payload must fail one request, not the process.
func runCall[T any](g *Group, ctx context.Context, name string, fn func(ctx context.Context) (T, error)) (T, error) {
	v, err := recovery.Call(func() (T, error) { return fn(ctx) })
	if p := recovery.From(err); p != nil {
		err = apperr.Wrap(apperr.KindInternal, fmt.Errorf("fan-out call %s panicked: %w", name, p), "internal error")
		g.panicked(ctx, name, err)
	}
	return v, err
}

// PanicObserver is an Observer that is also told when a call panicked (the
// panic is then the call's error). Without one, the group logs the panic.
type PanicObserver interface {
	Panicked(ctx context.Context, source string, err error)
}

func (g *Group) panicked(ctx context.Context, name string, err error) {
	if po, ok := g.obs.(PanicObserver); ok {
		po.Panicked(ctx, name, err)
		return
	}
	p := recovery.From(err)
	logging.FromContext(ctx).WithFields(map[string]any{"source": name, "panic": fmt.Sprint(p.Value), "stack": p.Stack}).
		Error("panic in a fan-out call")
}

// finish marks f done and starts its dependents.
func (f *Future[T]) finish() {
	f.done.Done()
	f.mu.Lock()
	f.finished = true
	next, more := f.next, f.more
	f.next, f.more = nil, nil
	f.mu.Unlock()
	for _, s := range more {
		f.g.spawn(s)
	}
	if next != nil {
		next.Run()
	}
}

// Name is the call's name.
func (f *Future[T]) Name() string { return f.name }

// Result waits for the call and returns its value and error. A degraded
// optional call returns its zero value and its error; a call answered
// stale returns the stale value and no error.
func (f *Future[T]) Result() (T, error) {
	f.done.Wait()
	return f.val, f.err
}

// Value returns the value after Wait; the zero value if the call failed.
func (f *Future[T]) Value() T {
	f.done.Wait()
	return f.val
}

// Go starts fn in g: in a goroutine of its own, or in Wait's goroutine if
// Wait gets to it first. The name labels metrics and the degraded and
// stale lists, so it must come from code, never from input.
func Go[T any](g *Group, name string, fn func(ctx context.Context) (T, error), opts ...Option) *Future[T] {
	f := newCall(g, name, fn, opts)
	g.mu.Lock()
	g.pending = append(g.pending, f)
	g.mu.Unlock()
	g.spawn(f)
	return f
}

func newCall[T any](g *Group, name string, fn func(ctx context.Context) (T, error), opts []Option) *Future[T] {
	f := &Future[T]{name: name, g: g, fn: fn}
	for _, opt := range opts {
		opt(&f.opts)
	}
	f.done.Add(1)
	g.wg.Add(1)
	return f
}

// run makes the call and settles its future according to its mode.
func (f *Future[T]) run() {
	g, o, fn := f.g, f.opts, f.fn
	defer g.wg.Done()
	defer f.finish()
	name := f.name
	ctx := g.ctx
	if o.mode != ModeRequired && !g.optDeadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, g.optDeadline)
		defer cancel()
	}
	// A traced optional or stale-ok call's failed attempt keeps its span
	// open until the call is settled, to mark it degraded or stale.
	var hold *tracing.Hold
	if o.mode != ModeRequired && trace.SpanFromContext(ctx).IsRecording() {
		ctx, hold = tracing.WithHold(ctx)
		defer hold.Release()
	}
	// Code around the call (the stale store, the observer) may panic too:
	// the call then fails with that panic.
	defer func() {
		if r := recover(); r != nil {
			err := apperr.Wrap(apperr.KindInternal, fmt.Errorf("fan-out call %s panicked: %w", name, &recovery.Panic{Value: r, Stack: string(debug.Stack())}), "internal error")
			g.panicked(ctx, name, err)
			var zero T
			f.val, f.err = zero, err
			g.fail(err)
		}
	}()
	f.val, f.err = runCall(g, ctx, name, fn)
	if f.err == nil {
		if o.mode == ModeStaleOK {
			if b, err := json.Marshal(f.val); err == nil {
				o.store.Set(context.WithoutCancel(ctx), o.key, b)
			}
		}
		return
	}
	if o.mode == ModeRequired || g.canceled() {
		g.fail(f.err)
		return
	}
	if o.mode == ModeStaleOK {
		if b, ok := o.store.Get(g.ctx, o.key); ok {
			var v T
			if json.Unmarshal(b, &v) == nil {
				g.record(&g.stale, name)
				hold.Release(attribute.Bool("wings.stale", true))
				g.obs.Stale(g.ctx, name, f.err)
				f.val, f.err = v, nil
				return
			}
		}
		g.fail(f.err)
		return
	}
	var zero T
	f.val = zero
	g.record(&g.degraded, name)
	hold.Release(attribute.Bool("wings.degraded", true))
	g.obs.Degraded(g.ctx, name, f.err)
}

func (g *Group) canceled() bool { return g.failed.Load() }

// Then starts fn in g once parent has succeeded, passing its value. If the
// parent fails, fn does not run and the future carries the parent's error.
func Then[P, T any](g *Group, name string, parent *Future[P], fn func(ctx context.Context, p P) (T, error), opts ...Option) *Future[T] {
	f := newCall(g, name, func(ctx context.Context) (T, error) {
		p, err := parent.Result()
		if err != nil {
			var zero T
			return zero, err
		}
		return fn(ctx, p)
	}, opts)
	parent.then(f)
	return f
}

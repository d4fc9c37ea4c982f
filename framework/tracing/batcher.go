package tracing

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// batcher is the span processor of a traced process: an ended span is
// appended to a buffer under a mutex, and one goroutine exports the buffer
// when a batch is full, every interval, on ForceFlush and at Shutdown.
//
// The SDK's batch processor sends every span over a channel to its
// goroutine, which wakes it for each span (four times per /api/video/:id
// request at 100% sampling); here the goroutine is woken once per batch.
// Spans beyond the queue bound, and spans that end after Shutdown, are
// dropped and counted; requests never wait for the exporter.
type batcher struct {
	exp      sdktrace.SpanExporter
	maxBatch int
	maxQueue int
	timeout  time.Duration // of one export
	dropped  func(n int)   // spans lost to a full queue; may be nil

	mu      sync.Mutex
	buf     []sdktrace.ReadOnlySpan
	stopped bool

	kick     chan struct{}      // a full batch waits (capacity 1)
	flushes  chan chan struct{} // ForceFlush: closed when exported
	stop     chan struct{}
	done     chan struct{} // the goroutine has exported the last spans
	stopOnce sync.Once
}

type batcherOptions struct {
	maxBatch, maxQueue int
	interval, timeout  time.Duration
	dropped            func(n int)
}

func newBatcher(exp sdktrace.SpanExporter, o batcherOptions) *batcher {
	b := &batcher{
		exp: exp, maxBatch: o.maxBatch, maxQueue: o.maxQueue, timeout: o.timeout, dropped: o.dropped,
		kick: make(chan struct{}, 1), flushes: make(chan chan struct{}),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.run(o.interval)
	return b
}

func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.stopped || len(b.buf) >= b.maxQueue {
		b.mu.Unlock()
		if b.dropped != nil {
			b.dropped(1)
		}
		return
	}
	b.buf = append(b.buf, s)
	full := len(b.buf) >= b.maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default: // already woken
		}
	}
}

func (b *batcher) run(interval time.Duration) {
	defer close(b.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var spare []sdktrace.ReadOnlySpan
	for {
		var ack chan struct{}
		select {
		case <-b.stop:
			b.export(&spare)
			return
		case <-tick.C:
		case <-b.kick:
		case ack = <-b.flushes:
		}
		b.export(&spare)
		if ack != nil {
			close(ack)
		}
	}
}

// export takes the buffer (leaving spare, emptied, in its place) and
// sends it in batches of at most maxBatch; the taken slice becomes the
// next spare.
func (b *batcher) export(spare *[]sdktrace.ReadOnlySpan) {
	b.mu.Lock()
	taken := b.buf
	b.buf = (*spare)[:0]
	b.mu.Unlock()
	for rest := taken; len(rest) > 0; {
		n := min(len(rest), b.maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		if err := b.exp.ExportSpans(ctx, rest[:n]); err != nil {
			otel.Handle(err) // counted as dropped by the exporter's wrapper
		}
		cancel()
		rest = rest[n:]
	}
	clear(taken) // let the spans go
	*spare = taken[:0]
}

// ForceFlush exports the spans ended so far.
func (b *batcher) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flushes <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is buffered, then shuts the exporter down; spans
// ending later are dropped.
func (b *batcher) Shutdown(ctx context.Context) error {
	first := false
	b.stopOnce.Do(func() {
		first = true
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		close(b.stop)
	})
	if !first {
		return nil
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.exp.Shutdown(ctx)
}

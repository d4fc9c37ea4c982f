package tracing

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wings-bff/wings/framework/testkit"
)

// recorder is an exporter that keeps the sizes of the batches it got and
// can be held (gate) to make the queue fill.
type recorder struct {
	mu       sync.Mutex
	batches  []int
	total    int
	gate     chan struct{} // nil: never blocks
	shutdown atomic.Bool
}

func (r *recorder) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, len(spans))
	r.total += len(spans)
	return nil
}

func (r *recorder) Shutdown(context.Context) error { r.shutdown.Store(true); return nil }

func (r *recorder) got() (total int, batches []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total, append([]int(nil), r.batches...)
}

func endSpans(t testing.TB, tp *sdktrace.TracerProvider, n int) {
	tr := tp.Tracer("t")
	for range n {
		_, s := tr.Start(context.Background(), "x")
		s.End()
	}
}

// TestBatcherBatchesFlushesAndStops: full batches go out without a flush,
// never larger than maxBatch; ForceFlush sends the rest; unsampled spans
// are not exported; Shutdown sends what is left and shuts the exporter;
// later spans are dropped and counted.
func TestBatcherBatchesFlushesAndStops(t *testing.T) {
	rec := &recorder{}
	var dropped atomic.Int64
	b := newBatcher(rec, batcherOptions{maxBatch: 10, maxQueue: 100, interval: time.Hour, timeout: time.Second,
		dropped: func(n int) { dropped.Add(int64(n)) }})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))

	endSpans(t, tp, 25)
	deadline := time.Now().Add(5 * time.Second)
	for total, _ := rec.got(); total < 10 && time.Now().Before(deadline); total, _ = rec.got() {
		time.Sleep(time.Millisecond)
	}
	if total, _ := rec.got(); total < 10 {
		t.Fatalf("full batches were not exported without a flush: %d spans", total)
	}
	if err := b.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	total, batches := rec.got()
	if total != 25 {
		t.Fatalf("after ForceFlush %d spans exported; want 25", total)
	}
	for _, n := range batches {
		if n > 10 {
			t.Errorf("a batch of %d spans; max 10", n)
		}
	}

	unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(b))
	endSpans(t, unsampled, 5)
	endSpans(t, tp, 3)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, _ := rec.got(); total != 28 {
		t.Errorf("after Shutdown %d spans exported; want 28", total)
	}
	if !rec.shutdown.Load() {
		t.Error("the exporter was not shut down")
	}
	// The provider is shut down; a span ended on another provider sharing
	// the batcher is dropped and counted.
	other := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	endSpans(t, other, 2)
	if dropped.Load() != 2 {
		t.Errorf("dropped after Shutdown = %d; want 2", dropped.Load())
	}
	if err := b.ForceFlush(context.Background()); err != nil {
		t.Errorf("ForceFlush after Shutdown: %v", err)
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestBatcherQueueFullDrops: while the exporter is stuck, spans beyond
// the queue bound are dropped and counted, and ending spans never blocks.
func TestBatcherQueueFullDrops(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	var dropped atomic.Int64
	b := newBatcher(rec, batcherOptions{maxBatch: 10, maxQueue: 50, interval: time.Hour, timeout: time.Second,
		dropped: func(n int) { dropped.Add(int64(n)) }})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	endSpans(t, tp, 10) // a full batch: the goroutine takes it and sticks in the exporter
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.buf)
		b.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first batch was not taken")
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { endSpans(t, tp, 80); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("ending spans blocked on a stuck exporter")
	}
	if got := dropped.Load(); got != 30 {
		t.Errorf("dropped = %d; want 30 (80 ended, 50 queued)", got)
	}
	close(rec.gate)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, _ := rec.got(); total != 60 {
		t.Errorf("exported %d; want 60", total)
	}
}

// TestBatcherConcurrent: spans ended from many goroutines while flushes
// run are each exported once (run with -race).
func TestBatcherConcurrent(t *testing.T) {
	rec := &recorder{}
	b := newBatcher(rec, batcherOptions{maxBatch: 64, maxQueue: 1 << 20, interval: time.Millisecond, timeout: time.Second})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { endSpans(t, tp, 500) })
	}
	wg.Go(func() {
		for range 20 {
			_ = b.ForceFlush(context.Background())
		}
	})
	wg.Wait()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if total, _ := rec.got(); total != 4000 {
		t.Errorf("exported %d; want 4000", total)
	}
}

// BenchmarkProcessor ends spans from parallel goroutines through the SDK's
// batch processor and through the batcher (same batch and queue sizes, a
// discarding exporter). cpu-ns/op is the process's CPU time (getrusage)
// per span, so it includes the processor's own goroutine.
func BenchmarkProcessor(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  func() sdktrace.SpanProcessor
	}{
		{"sdk", func() sdktrace.SpanProcessor {
			return sdktrace.NewBatchSpanProcessor(testkit.DiscardSpans{}, sdktrace.WithMaxExportBatchSize(4096), sdktrace.WithMaxQueueSize(16384))
		}},
		{"wings", func() sdktrace.SpanProcessor {
			return newBatcher(testkit.DiscardSpans{}, batcherOptions{maxBatch: 4096, maxQueue: 16384, interval: time.Second, timeout: time.Second})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bc.new()))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tr := tp.Tracer("t")
			kind := trace.WithSpanKind(trace.SpanKindClient)
			b.ReportAllocs()
			before := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, s := tr.Start(context.Background(), "GET video", kind)
					s.End()
				}
			})
			b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

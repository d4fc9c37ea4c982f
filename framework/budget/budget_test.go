package budget

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/apperr"
)

func kindOf(err error) apperr.Kind {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return 255
}

// TestPerUserLimit: a caller's share full, its next operation waits the
// bounded time and gets 429 with Retry-After, while another caller still
// gets a slot; once one of its own ends, it gets one again.
func TestPerUserLimit(t *testing.T) {
	t.Parallel()
	l := New("raw", Limits{Concurrency: 4, PerUser: 1, Wait: 20 * time.Millisecond, RetryAfter: 3 * time.Second})
	ctx := context.Background()
	rel, err := l.Acquire(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = l.Acquire(ctx, "alice")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindRateLimited || ae.RetryAfter != 3*time.Second {
		t.Fatalf("second of alice: %v; want rate_limited with RetryAfter 3s", err)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("refused after %s; want after the 20ms wait", waited)
	}
	relB, err := l.Acquire(ctx, "bob")
	if err != nil {
		t.Fatalf("bob: %v; want a slot", err)
	}
	relB()
	rel()
	rel() // a second call does nothing
	rel2, err := l.Acquire(ctx, "alice")
	if err != nil {
		t.Fatalf("alice after release: %v", err)
	}
	rel2()
	if total, mine := l.Running("alice"); total != 0 || mine != 0 {
		t.Errorf("running after all released: %d, %d; want 0, 0", total, mine)
	}
	if n := len(l.users); n != 0 {
		t.Errorf("callers remembered: %d; want 0", n)
	}
}

// TestWaitGetsFreedSlot: a caller over its share that waits gets the slot
// its own earlier operation frees within the wait.
func TestWaitGetsFreedSlot(t *testing.T) {
	t.Parallel()
	l := New("raw", Limits{Concurrency: 1, PerUser: 1, Wait: 10 * time.Second})
	rel, err := l.Acquire(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := l.Acquire(context.Background(), "alice")
		if err == nil {
			r()
		}
		got <- err
	}()
	// Release once the second call is waiting.
	for {
		l.mu.Lock()
		w := l.users["alice"].waiting
		l.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	rel()
	if err := <-got; err != nil {
		t.Fatalf("waiting caller: %v; want the freed slot", err)
	}
}

// TestClassFull: with the class full, another caller waits the bounded
// time and gets 503 unavailable; a cancelled caller gets its context's
// error at once.
func TestClassFull(t *testing.T) {
	t.Parallel()
	l := New("raw", Limits{Concurrency: 2, PerUser: 2, Wait: 20 * time.Millisecond})
	for _, u := range []string{"a", "b"} {
		if _, err := l.Acquire(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	_, err := l.Acquire(context.Background(), "c")
	if kindOf(err) != apperr.KindUnavailable {
		t.Fatalf("class full: %v; want unavailable", err)
	}
	if _, mine := l.Running("c"); mine != 0 {
		t.Errorf("c still counted after its refusal: %d", mine)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l2 := New("raw", Limits{Concurrency: 1, PerUser: 1, Wait: time.Hour})
	if _, err := l2.Acquire(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Acquire(ctx, "b"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v; want context.Canceled", err)
	}
}

// TestConcurrentBounds hammers the limiter from many goroutines (run with
// -race): never more than Concurrency at once, never more than PerUser
// for one caller, and every slot comes back.
func TestConcurrentBounds(t *testing.T) {
	t.Parallel()
	const conc, perUser, users, calls = 3, 2, 5, 400
	l := New("raw", Limits{Concurrency: conc, PerUser: perUser, Wait: 5 * time.Millisecond})
	var (
		running atomic.Int32
		mine    [users]atomic.Int32
		maxAll  atomic.Int32
		granted atomic.Int32
		wg      sync.WaitGroup
	)
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := i % users
			rel, err := l.Acquire(context.Background(), string(rune('a'+u)))
			if err != nil {
				if k := kindOf(err); k != apperr.KindRateLimited && k != apperr.KindUnavailable {
					t.Errorf("refusal of kind %v", k)
				}
				return
			}
			granted.Add(1)
			n := running.Add(1)
			for {
				m := maxAll.Load()
				if n <= m || maxAll.CompareAndSwap(m, n) {
					break
				}
			}
			if m := mine[u].Add(1); m > perUser {
				t.Errorf("caller %d: %d at once; want <= %d", u, m, perUser)
			}
			time.Sleep(100 * time.Microsecond)
			mine[u].Add(-1)
			running.Add(-1)
			rel()
		}()
	}
	wg.Wait()
	if m := maxAll.Load(); m > conc {
		t.Errorf("at once: %d; want <= %d", m, conc)
	}
	if granted.Load() == 0 {
		t.Error("nothing granted")
	}
	if total, _ := l.Running("a"); total != 0 || len(l.users) != 0 {
		t.Errorf("after all: %d running, %d callers remembered; want 0, 0", total, len(l.users))
	}
}

package dao

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
)

// deadRedis is a listener this test holds that accepts connections and
// closes them at once: a Redis that cannot answer. It counts connections.
func deadRedis(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String(), conns
}

// TestPayloadStoreBacksOffDeadRedis: after a Redis failure the store
// answers from its in-process copy without trying Redis again until the
// backoff has passed, and logs the outage once.
func TestPayloadStoreBacksOffDeadRedis(t *testing.T) {
	t.Parallel()
	addr, conns := deadRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	log, hook := logtest.NewNullLogger()
	s := NewPayloadStore(rdb, "t:", time.Hour, log)
	var mu sync.Mutex
	now := time.Date(2026, 2, 28, 23, 59, 30, 0, time.UTC)
	s.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()

	at := time.Date(2026, 2, 28, 23, 59, 0, 0, time.UTC)
	if err := s.Put(ctx, "k", []byte(`{"v":1}`), at); err == nil {
		t.Fatal("first Put: want the Redis error")
	}
	tried := conns.Load()
	if tried == 0 {
		t.Fatal("first Put never reached Redis")
	}
	for i := 0; i < 50; i++ {
		if err := s.Put(ctx, "k", []byte(`{"v":1}`), at); err != nil {
			t.Fatalf("Put during the backoff: %v; want nil (the local copy is kept)", err)
		}
		b, got, ok := s.Get(ctx, "k")
		if !ok || string(b) != `{"v":1}` || !got.Equal(at) {
			t.Fatalf("Get during the backoff: %s %s %v; want the local copy", b, got, ok)
		}
	}
	if n := conns.Load(); n != tried {
		t.Errorf("connections during the backoff: %d more; want none", n-tried)
	}
	var warns int
	for _, e := range hook.AllEntries() {
		if e.Level == logrus.WarnLevel {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("outage log lines: %d; want 1", warns)
	}

	advance(payloadDownBackoff)
	if _, _, ok := s.Get(ctx, "k"); !ok {
		t.Error("Get after the backoff: want the local copy")
	}
	if conns.Load() == tried {
		t.Error("after the backoff Redis was not tried again")
	}
}

package cache_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wings-bff/wings/framework/cache"
)

// TestPutPeek: a Put value is read back by Peek on this instance and, through
// Redis under the cache's key scheme, on another; the newer write wins; Delete
// drops it everywhere.
func TestPutPeek(t *testing.T) {
	ns := "putpeek-" + t.Name()
	a := newEnv(t, ns, redisAddr, cache.Policy{TTL: time.Minute})
	b := newEnv(t, ns, redisAddr, cache.Policy{TTL: time.Minute})
	ctx := context.Background()

	if _, _, ok := a.cache.Peek(ctx, "home:video"); ok {
		t.Fatal("Peek found a value never put")
	}
	if err := a.cache.Put(ctx, "home:video", []byte(`{"v":1}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	v, at, ok := a.cache.Peek(ctx, "home:video")
	if !ok || string(v) != `{"v":1}` || time.Since(at) > time.Minute {
		t.Fatalf("Peek on the writer: %q %v %v", v, at, ok)
	}
	if v, _, ok := b.cache.Peek(ctx, "home:video"); !ok || string(v) != `{"v":1}` {
		t.Fatalf("Peek on another instance: %q %v", v, ok)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	if ttl, err := rdb.PTTL(ctx, "wings:"+ns+":c:d:home:video").Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("redis key wings:%s:c:d:home:video: ttl %s %v; want about 1h", ns, ttl, err)
	}

	time.Sleep(5 * time.Millisecond) // a later write time (ms resolution in Redis)
	if err := b.cache.Put(ctx, "home:video", []byte(`{"v":2}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := a.cache.Peek(ctx, "home:video"); !ok || string(v) != `{"v":2}` {
		t.Errorf("the first instance after another's newer Put: %q %v; want v 2", v, ok)
	}

	if err := a.cache.Delete(ctx, "home:video"); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := a.cache.Peek(ctx, "home:video"); ok {
		t.Errorf("after Delete: %q", v)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, _, ok := b.cache.Peek(ctx, "home:video")
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other instance still has the value 2s after Delete")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPutPeekRedisDown: with Redis not answering, Put keeps the value in
// this instance (and reports the failure) and Peek serves it, each call
// bounded by the Redis timeouts.
func TestPutPeekRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept and never answer: a hung Redis
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	e := newEnv(t, "putpeek-down", ln.Addr().String(), cache.Policy{TTL: time.Minute})
	ctx := context.Background()
	start := time.Now()
	if err := e.cache.Put(ctx, "k", []byte("v"), time.Hour); err == nil {
		t.Error("Put to a hung Redis reported no error")
	}
	if v, _, ok := e.cache.Peek(ctx, "k"); !ok || string(v) != "v" {
		t.Errorf("Peek with Redis down: %q %v; want this instance's copy", v, ok)
	}
	for i := 0; i < 50; i++ {
		if _, _, ok := e.cache.Peek(ctx, "k"); !ok {
			t.Fatal("lost the copy")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("51 Peeks and a Put took %s with Redis down; want Redis skipped after the first failure", d)
	}

	none := newEnv(t, "putpeek-none", "", cache.Policy{TTL: time.Minute})
	if err := none.cache.Put(ctx, "k", []byte("w"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := none.cache.Peek(ctx, "k"); !ok || string(v) != "w" {
		t.Errorf("without Redis: %q %v", v, ok)
	}
}

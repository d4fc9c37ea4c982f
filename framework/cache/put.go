package cache

import (
	"context"
	"time"
)

// Put stores value under the data key key (GetOrLoad's key space: Redis
// key "wings:<app.name>:c:d:" + key) for ttl, written now, in this
// instance and in Redis. It is for values computed ahead of requests, such
// as a scheduled job's payloads; Peek reads them. The in-process copy is
// kept even when Redis fails (the error is returned), so this instance
// still serves it; Delete and Purge drop it like any entry.
func (c *Cache) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	now := c.now()
	e := &entry{value: value, written: now, expires: now.Add(ttl), keep: now.Add(ttl)}
	ikey := "d:" + key
	c.l1.set(ikey, e)
	if !c.remote.usable() {
		return nil
	}
	return c.remote.set(ctx, ikey, e)
}

// Peek returns the newest value stored under key by Put (or GetOrLoad) in
// this instance or in Redis, and when it was written; ok is false when
// there is none. It never loads. A newer value from Redis (another
// instance's Put) replaces this instance's copy.
func (c *Cache) Peek(ctx context.Context, key string) (value []byte, written time.Time, ok bool) {
	ikey := "d:" + key
	now := c.now()
	e := c.l1.get(ikey, now)
	if e != nil {
		c.count("l1", "hit")
	} else {
		c.count("l1", "miss")
	}
	if c.remote.usable() {
		switch re, err := c.remote.get(ctx, ikey); {
		case err != nil:
		case re == nil:
			c.count("redis", "miss")
		case now.Before(re.keep) && (e == nil || re.written.After(e.written)):
			c.count("redis", "hit")
			c.l1.set(ikey, re)
			e = re
		}
	}
	if e == nil {
		return nil, time.Time{}, false
	}
	return e.value, e.written, true
}

package cache

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// entry is one cached value with its times. Entries are immutable once
// made, so they are shared between L1, readers and Redis encoding.
type entry struct {
	value   []byte
	written time.Time     // when the value was computed
	expires time.Time     // fresh until
	keep    time.Time     // kept (for grace and stale-if-error) until
	cost    time.Duration // how long the value took to compute; 0 when read from Redis
}

// freshUntil is when e stops being fresh under p: its own expiry, or
// sooner when p's TTL has been lowered since it was written (config hot
// reload). A raised TTL does not extend entries already stored.
func (e *entry) freshUntil(p Policy) time.Time {
	if p.TTL > 0 {
		if t := e.written.Add(p.TTL); t.Before(e.expires) {
			return t
		}
	}
	return e.expires
}

// size is what an entry counts against l1_max_bytes: value, key and a fixed
// overhead for the entry, list element and map slot.
func (e *entry) size(key string) int64 { return int64(len(e.value) + len(key) + 128) }

// l1 is the in-process level: an LRU bounded in entries (by simplelru) and
// in bytes (by our own accounting under the same mutex), with per-entry
// expiry checked on read.
type l1 struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, *entry]
	bytes    atomic.Int64
	entries  atomic.Int64
	maxBytes int64
}

func newL1(maxEntries, maxBytes int) *l1 {
	c := &l1{maxBytes: int64(maxBytes)}
	lru, err := simplelru.NewLRU[string, *entry](maxEntries, func(k string, e *entry) {
		c.bytes.Add(-e.size(k))
		c.entries.Add(-1)
	})
	if err != nil { // only for size <= 0, which config validation forbids
		panic(err)
	}
	c.lru = lru
	return c
}

// get returns the entry under key unless it is past its keep time.
func (c *l1) get(key string, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return nil
	}
	if !now.Before(e.keep) {
		c.lru.Remove(key)
		return nil
	}
	return e
}

// set stores e under key, evicting the least recently used entries until
// both bounds hold. An entry larger than an eighth of the byte bound is not
// kept in L1 (it would evict too much); Redis still holds it.
func (c *l1) set(key string, e *entry) {
	sz := e.size(key)
	if sz > c.maxBytes/8 {
		c.remove(key)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(key); ok {
		c.lru.Remove(key) // runs the eviction callback: accounting stays right
		_ = old
	}
	c.lru.Add(key, e)
	c.bytes.Add(sz)
	c.entries.Add(1)
	for c.bytes.Load() > c.maxBytes {
		if _, _, ok := c.lru.RemoveOldest(); !ok {
			break
		}
	}
}

func (c *l1) remove(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Remove(key)
}

// removePrefix drops every key starting with prefix and returns how many.
// It walks the keys: L1 is bounded, so this costs at most l1_max_entries.
func (c *l1) removePrefix(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.lru.Keys() {
		if strings.HasPrefix(k, prefix) && c.lru.Remove(k) {
			n++
		}
	}
	return n
}

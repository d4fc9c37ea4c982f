package fanout

import (
	"context"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultStaleEntries bounds the in-process stale store the Runtime makes.
const DefaultStaleEntries = 10000

// MemoryStore is a bounded in-process StaleStore: the least recently used
// keys are evicted beyond its size. It is safe for concurrent use.
type MemoryStore struct {
	c *lru.Cache[string, []byte]
}

// NewMemoryStore returns a store of at most size entries (at least 1).
func NewMemoryStore(size int) *MemoryStore {
	c, _ := lru.New[string, []byte](max(size, 1)) // errors only for size <= 0
	return &MemoryStore{c: c}
}

// Get returns the value kept for key.
func (s *MemoryStore) Get(_ context.Context, key string) ([]byte, bool) { return s.c.Get(key) }

// Set keeps val for key.
func (s *MemoryStore) Set(_ context.Context, key string, val []byte) { s.c.Add(key, val) }

// Len is the number of keys kept.
func (s *MemoryStore) Len() int { return s.c.Len() }

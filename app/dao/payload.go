package dao

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PayloadStore keeps the last precomputed dashboard payloads. It writes to
// Redis (shared by every instance) when there is one and always keeps an
// in-process copy, so a payload survives Redis and ClickHouse outages.
// (framework/cache was not committed when this was written; this is the
// small interface to swap for it.)
type PayloadStore struct {
	rdb    *redis.Client // nil: in-process only
	prefix string
	ttl    time.Duration

	mu    sync.RWMutex
	local map[string]storedPayload
}

type storedPayload struct {
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// NewPayloadStore returns a store keeping payloads for ttl under prefix.
func NewPayloadStore(rdb *redis.Client, prefix string, ttl time.Duration) *PayloadStore {
	return &PayloadStore{rdb: rdb, prefix: prefix, ttl: ttl, local: map[string]storedPayload{}}
}

// Put stores data computed at at.
func (s *PayloadStore) Put(ctx context.Context, key string, data []byte, at time.Time) error {
	p := storedPayload{At: at, Data: data}
	s.mu.Lock()
	s.local[key] = p
	s.mu.Unlock()
	if s.rdb == nil {
		return nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	return s.rdb.Set(ctx, s.prefix+key, b, s.ttl).Err()
}

// Get returns the newest payload of key from Redis or this process, and
// when it was computed; ok is false when there is none.
func (s *PayloadStore) Get(ctx context.Context, key string) (data []byte, at time.Time, ok bool) {
	s.mu.RLock()
	p, ok := s.local[key]
	s.mu.RUnlock()
	if s.rdb != nil {
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
		var rp storedPayload
		// On any Redis trouble the local copy answers.
		if err == nil && json.Unmarshal(b, &rp) == nil && (!ok || rp.At.After(p.At)) {
			p, ok = rp, true
		}
	}
	if !ok {
		return nil, time.Time{}, false
	}
	return p.Data, p.At, true
}

package dao

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// Redis outage handling of the payload store, as in framework/cache.
const (
	// payloadDownBackoff is how long Redis is skipped after a failure.
	payloadDownBackoff = time.Second
	// payloadLogEvery bounds the outage log to one line per period.
	payloadLogEvery = 10 * time.Second
)

// PayloadStore keeps the last precomputed dashboard payloads. It writes to
// Redis (shared by every instance) when there is one and always keeps an
// in-process copy, so a payload survives Redis and ClickHouse outages.
// After a Redis failure it skips Redis for payloadDownBackoff, so a dead or
// hung Redis costs one bounded timeout per second, not one per request.
type PayloadStore struct {
	rdb    redis.UniversalClient // nil: in-process only
	prefix string
	ttl    time.Duration
	log    *logrus.Logger
	now    func() time.Time

	mu        sync.RWMutex
	local     map[string]storedPayload
	downUntil time.Time
	down      bool
	lastLog   time.Time
	missed    int // failures since the last log line
}

type storedPayload struct {
	At   time.Time       `json:"at"`
	Data json.RawMessage `json:"data"`
}

// NewPayloadStore returns a store keeping payloads for ttl under prefix,
// logging Redis outages to log (nil: not logged).
func NewPayloadStore(rdb redis.UniversalClient, prefix string, ttl time.Duration, log *logrus.Logger) *PayloadStore {
	if log == nil {
		log = logrus.New()
		log.SetOutput(io.Discard)
	}
	return &PayloadStore{rdb: rdb, prefix: prefix, ttl: ttl, log: log, now: time.Now, local: map[string]storedPayload{}}
}

// redisUsable reports whether Redis should be tried now.
func (s *PayloadStore) redisUsable() bool {
	if s.rdb == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return !s.now().Before(s.downUntil)
}

// failed records a Redis failure: skip Redis for a while and log, at most
// once per payloadLogEvery.
func (s *PayloadStore) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.downUntil, s.down = now.Add(payloadDownBackoff), true
	s.missed++
	if now.Sub(s.lastLog) < payloadLogEvery {
		return
	}
	s.log.WithError(err).WithField("errors", s.missed).
		Warn("dash payload store: redis unavailable; using this instance's copies (logged at most every 10s)")
	s.lastLog, s.missed = now, 0
}

// succeeded notes that Redis answered, logging a recovery once.
func (s *PayloadStore) succeeded() {
	s.mu.RLock()
	down := s.down
	s.mu.RUnlock()
	if !down {
		return
	}
	s.mu.Lock()
	if s.down {
		s.down = false
		s.log.Info("dash payload store: redis is back")
	}
	s.mu.Unlock()
}

// Put stores data computed at at. It fails only when Redis was tried and
// failed; the in-process copy is kept in any case.
func (s *PayloadStore) Put(ctx context.Context, key string, data []byte, at time.Time) error {
	p := storedPayload{At: at, Data: data}
	s.mu.Lock()
	s.local[key] = p
	s.mu.Unlock()
	if !s.redisUsable() {
		return nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := s.rdb.Set(ctx, s.prefix+key, b, s.ttl).Err(); err != nil {
		if !errors.Is(err, context.Canceled) {
			s.failed(err)
		}
		return err
	}
	s.succeeded()
	return nil
}

// Get returns the newest payload of key from Redis or this process, and
// when it was computed; ok is false when there is none.
func (s *PayloadStore) Get(ctx context.Context, key string) (data []byte, at time.Time, ok bool) {
	s.mu.RLock()
	p, ok := s.local[key]
	s.mu.RUnlock()
	if s.redisUsable() {
		if rp, found := s.getRedis(ctx, key); found && (!ok || rp.At.After(p.At)) {
			p, ok = rp, true
		}
	}
	if !ok {
		return nil, time.Time{}, false
	}
	return p.Data, p.At, true
}

// getRedis reads key from Redis; on any Redis trouble the local copy
// answers (and Redis is backed off).
func (s *PayloadStore) getRedis(ctx context.Context, key string) (storedPayload, bool) {
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	b, err := s.rdb.Get(ctx, s.prefix+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		s.succeeded()
		return storedPayload{}, false
	case err != nil:
		// A caller that left is not Redis's fault.
		if !errors.Is(err, context.Canceled) {
			s.failed(err)
		}
		return storedPayload{}, false
	}
	s.succeeded()
	var rp storedPayload
	if json.Unmarshal(b, &rp) != nil {
		return storedPayload{}, false
	}
	return rp, true
}

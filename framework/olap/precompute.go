package olap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Store keeps precomputed payloads: framework/cache's Cache.Put.
type Store interface {
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Precompute is a scheduled job that computes one payload per key (a
// business line, say) and stores its JSON under StoreKey(key) for TTL.
type Precompute struct {
	Store Store
	// StoreKey names the stored payload of key.
	StoreKey func(key string) string
	TTL      time.Duration
	// Parallel keys are computed at once (at least one), each under
	// Timeout, so a slow key costs only its own timeout.
	Parallel int
	Timeout  time.Duration
	// Compute returns key's payload. A non-nil payload is stored even when
	// err is not nil (a part of the work failed, the payload is good).
	Compute func(ctx context.Context, key string) (any, error)
}

// Run computes and stores the payload of every key. A key's panic is its
// error; the errors of every failed key are joined.
func (p Precompute) Run(ctx context.Context, keys []string) error {
	sem := make(chan struct{}, max(p.Parallel, 1))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, key := range keys {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			fail(fmt.Errorf("precompute %s: not started: %w", key, ctx.Err()))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.one(ctx, key); err != nil {
				fail(err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p Precompute) one(ctx context.Context, key string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("precompute %s: panic: %v\n%s", key, r, debug.Stack())
		}
	}()
	if p.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Timeout)
		defer cancel()
	}
	v, err := p.Compute(ctx, key)
	if v == nil {
		return err
	}
	b, merr := json.Marshal(v)
	if merr != nil {
		return errors.Join(err, fmt.Errorf("precompute %s: %w", key, merr))
	}
	if perr := p.Store.Put(ctx, p.StoreKey(key), b, p.TTL); perr != nil {
		return errors.Join(err, fmt.Errorf("precompute %s: store: %w", key, perr))
	}
	return err
}

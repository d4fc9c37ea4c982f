// Package budget bounds how many costly operations of one class run at
// once: at most PerUser for one caller and at most Concurrency overall. A
// caller over either bound waits up to Wait for a slot, then gets a typed
// error: 429 rate_limited when its own share is full (it is the one
// asking too much), 503 unavailable when the class is full (everyone
// waits), both with a Retry-After.
package budget

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wings-bff/wings/framework/apperr"
)

// Limits are one class's bounds.
type Limits struct {
	// Concurrency is the most operations of the class running at once.
	Concurrency int
	// PerUser is the most operations of one caller running at once.
	PerUser int
	// Wait bounds how long a caller waits for a slot (0: not at all).
	Wait time.Duration
	// RetryAfter is sent with a refusal; zero means 1s.
	RetryAfter time.Duration
}

// Limiter enforces the Limits of one class. Its zero value is not usable;
// call New.
type Limiter struct {
	name   string
	limits Limits
	slots  chan struct{} // one token per running operation

	mu    sync.Mutex
	users map[string]*user // only callers with operations running or waiting
}

// user is one caller's running count; changed is closed (and replaced)
// whenever one of its operations ends, waking its waiters.
type user struct {
	running int
	waiting int
	changed chan struct{}
}

// New returns the limiter of the class name (used in messages). It panics
// on limits < 1: config validation rejects them first.
func New(name string, l Limits) *Limiter {
	if l.Concurrency < 1 || l.PerUser < 1 {
		panic(fmt.Sprintf("budget %s: concurrency and per_user must be >= 1", name))
	}
	if l.RetryAfter <= 0 {
		l.RetryAfter = time.Second
	}
	return &Limiter{name: name, limits: l, slots: make(chan struct{}, l.Concurrency), users: map[string]*user{}}
}

// Acquire takes a slot for caller, waiting at most Wait. It returns the
// function that gives the slot back (call it exactly once; later calls do
// nothing), or an *apperr.Error (KindRateLimited or KindUnavailable) when
// no slot came in time, or ctx's error when ctx ended first.
func (l *Limiter) Acquire(ctx context.Context, caller string) (func(), error) {
	timer := time.NewTimer(l.limits.Wait)
	defer timer.Stop()
	if err := l.acquireUser(ctx, caller, timer.C); err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		select {
		case l.slots <- struct{}{}:
		case <-timer.C:
			l.releaseUser(caller)
			return nil, &apperr.Error{Kind: apperr.KindUnavailable, RetryAfter: l.limits.RetryAfter,
				Message: fmt.Sprintf("%s analytics queries are at capacity (%d at once); retry shortly", l.name, l.limits.Concurrency)}
		case <-ctx.Done():
			l.releaseUser(caller)
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.slots
			l.releaseUser(caller)
		})
	}, nil
}

// acquireUser counts one more running operation for caller, waiting until
// timeout fires for one of its own to end.
func (l *Limiter) acquireUser(ctx context.Context, caller string, timeout <-chan time.Time) error {
	l.mu.Lock()
	for {
		u := l.users[caller]
		if u == nil {
			u = &user{changed: make(chan struct{})}
			l.users[caller] = u
		}
		if u.running < l.limits.PerUser {
			u.running++
			l.mu.Unlock()
			return nil
		}
		u.waiting++
		ch := u.changed
		l.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-timeout:
			err = apperr.RateLimited(fmt.Sprintf("too many %s analytics queries of yours at once (limit %d); retry shortly",
				l.name, l.limits.PerUser), l.limits.RetryAfter)
		case <-ctx.Done():
			err = ctx.Err()
		}
		l.mu.Lock()
		u.waiting--
		l.forget(caller, u)
		if err != nil {
			l.mu.Unlock()
			return err
		}
	}
}

// releaseUser ends one of caller's operations and wakes its waiters.
func (l *Limiter) releaseUser(caller string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[caller]
	if u == nil {
		return
	}
	u.running--
	close(u.changed)
	u.changed = make(chan struct{})
	l.forget(caller, u)
}

// forget drops caller's entry once nothing of it runs or waits, so the map
// holds only active callers. l.mu is held.
func (l *Limiter) forget(caller string, u *user) {
	if u.running == 0 && u.waiting == 0 && l.users[caller] == u {
		delete(l.users, caller)
	}
}

// Running returns how many operations run now, overall and for caller.
func (l *Limiter) Running(caller string) (total, mine int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.users[caller]; u != nil {
		mine = u.running
	}
	return len(l.slots), mine
}

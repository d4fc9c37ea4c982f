package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sirupsen/logrus"
)

// Redis key layout, under ns = "wings:<app.name>:c:":
//
//	ns + ikey           the entry (binary, see encode), PX = its keep time
//	ns + "idx"          sorted set, every score 0, members are ikeys: a
//	                    lexicographic range (ZRANGEBYLEX) finds all keys of a
//	                    prefix in O(log N + M), without SCANning the keyspace
//	ns + "exp"          sorted set of the same members scored by keep time
//	                    (unix ms), so a periodic trim drops index members of
//	                    expired entries
//	ns + "lock:" + ikey the optional cross-instance miss lock (SET NX PX)
//	ns + "purge"        pub/sub channel: purged prefixes, so every instance
//	                    drops them from its L1
//
// ikey is "r:" + path + "?" + the declared query [+ "#" + scope] [+ "|" +
// vary] for route responses (see routeKey) and "d:" + key for GetOrLoad
// data.

const (
	entryMagic   = 0x57 // 'W'
	entryVersion = 1
	headerLen    = 2 + 3*8
	// downBackoff is how long Redis is skipped after a failure.
	downBackoff = time.Second
	// logEvery bounds the Redis outage log to one line per period.
	logEvery = 10 * time.Second
)

// encode lays an entry out as magic, version, written, expires, keep (unix
// ms, big endian) and the value.
func encode(e *entry) []byte {
	b := make([]byte, headerLen, headerLen+len(e.value))
	b[0], b[1] = entryMagic, entryVersion
	binary.BigEndian.PutUint64(b[2:], uint64(e.written.UnixMilli()))
	binary.BigEndian.PutUint64(b[10:], uint64(e.expires.UnixMilli()))
	binary.BigEndian.PutUint64(b[18:], uint64(e.keep.UnixMilli()))
	return append(b, e.value...)
}

var errBadEntry = errors.New("cache: malformed entry in redis")

func decode(b []byte) (*entry, error) {
	if len(b) < headerLen || b[0] != entryMagic || b[1] != entryVersion {
		return nil, errBadEntry
	}
	ms := func(off int) time.Time { return time.UnixMilli(int64(binary.BigEndian.Uint64(b[off:]))) }
	return &entry{value: b[headerLen:], written: ms(2), expires: ms(10), keep: ms(18)}, nil
}

// remote is the Redis level. Every call is bounded by opTimeout; after a
// failure Redis is skipped for downBackoff, so an outage costs requests
// nothing. Errors are counted and logged at most once per logEvery.
type remote struct {
	rdb       redis.UniversalClient // nil: no Redis
	ns        string
	opTimeout time.Duration
	lockTTL   atomic.Int64 // nanoseconds: cache.lock_ttl, hot-reloaded
	log       *logrus.Logger
	onError   func()

	downUntil atomic.Int64 // unix nanos
	down      atomic.Bool
	logMu     sync.Mutex
	lastLog   time.Time
	missed    int // errors since the last log line
}

// usable reports whether Redis should be tried now.
func (r *remote) usable() bool {
	return r.rdb != nil && time.Now().UnixNano() >= r.downUntil.Load()
}

func (r *remote) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(parent), r.opTimeout)
}

// failed records a Redis failure: skip Redis for a while, count, and log
// unless a line was written less than logEvery ago.
func (r *remote) failed(err error) {
	r.downUntil.Store(time.Now().Add(downBackoff).UnixNano())
	r.down.Store(true)
	r.onError()
	r.logMu.Lock()
	defer r.logMu.Unlock()
	r.missed++
	if time.Since(r.lastLog) < logEvery {
		return
	}
	r.log.WithError(err).WithField("errors", r.missed).
		Warn("cache: redis unavailable; serving from L1 and upstreams (logged at most every 10s)")
	r.lastLog, r.missed = time.Now(), 0
}

// succeeded notes that Redis answered, logging the recovery once.
func (r *remote) succeeded() {
	if r.down.Load() && r.down.CompareAndSwap(true, false) {
		r.log.Info("cache: redis is back")
	}
}

// get returns the entry under ikey, nil when absent; err only when Redis
// failed (or was skipped).
func (r *remote) get(ctx context.Context, ikey string) (*entry, error) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	b, err := r.rdb.Get(ctx, r.ns+ikey).Bytes()
	if errors.Is(err, redis.Nil) {
		r.succeeded()
		return nil, nil
	}
	if err != nil {
		r.failed(err)
		return nil, err
	}
	r.succeeded()
	e, err := decode(b)
	if err != nil {
		return nil, nil // a foreign or old value: treat as absent, it is overwritten
	}
	return e, nil
}

// set stores the entry and indexes its key, in one round trip.
func (r *remote) set(ctx context.Context, ikey string, e *entry) error {
	ttl := time.Until(e.keep)
	if ttl <= 0 {
		return nil
	}
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.ns+ikey, encode(e), ttl)
		p.ZAdd(ctx, r.ns+"idx", redis.Z{Score: 0, Member: ikey})
		p.ZAdd(ctx, r.ns+"exp", redis.Z{Score: float64(e.keep.UnixMilli()), Member: ikey})
		return nil
	})
	if err != nil {
		r.failed(err)
		return err
	}
	r.succeeded()
	return nil
}

// lock tries the cross-instance miss lock; true when this caller holds it.
func (r *remote) lock(ctx context.Context, ikey string) bool {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	ok, err := r.rdb.SetNX(ctx, r.ns+"lock:"+ikey, "1", time.Duration(r.lockTTL.Load())).Result()
	if err != nil {
		r.failed(err)
		return true // no Redis, no lock: compute it here
	}
	return ok
}

func (r *remote) unlock(ctx context.Context, ikey string) {
	ctx, cancel := r.ctx(ctx)
	defer cancel()
	if err := r.rdb.Del(ctx, r.ns+"lock:"+ikey).Err(); err != nil {
		r.failed(err)
	}
}

// purge deletes ikey exactly, or every key starting with it when prefix is
// set, then announces it so other instances drop it from L1. It returns how
// many Redis entries were deleted.
func (r *remote) purge(ctx context.Context, ikey string, prefix bool) (int, error) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*r.opTimeout+time.Second)
	defer cancel()
	n := 0
	if !prefix {
		del, err := r.rdb.Del(pctx, r.ns+ikey).Result()
		if err != nil {
			return 0, err
		}
		n = int(del)
		r.rdb.ZRem(pctx, r.ns+"idx", ikey)
		r.rdb.ZRem(pctx, r.ns+"exp", ikey)
	} else {
		for range 10000 { // bounded: 5M keys
			// ZRANGEBYLEX, not ZRANGE ... BYLEX: it also works on Redis < 6.2, where ZRANGE ... BYLEX does not
			members, err := r.rdb.ZRangeByLex(pctx, r.ns+"idx", &redis.ZRangeBy{
				Min: "[" + ikey, Max: "[" + ikey + "\xff", Count: 500,
			}).Result()
			if err != nil {
				return n, err
			}
			if len(members) == 0 {
				break
			}
			keys := make([]string, len(members))
			drop := make([]any, len(members))
			for i, m := range members {
				keys[i], drop[i] = r.ns+m, m
			}
			_, err = r.rdb.Pipelined(pctx, func(p redis.Pipeliner) error {
				// One UNLINK a key: entries hash to different slots on a
				// Redis Cluster, where one multi-key UNLINK fails CROSSSLOT;
				// the pipeline still makes it one round trip per node.
				for _, k := range keys {
					p.Unlink(pctx, k)
				}
				p.ZRem(pctx, r.ns+"idx", drop...)
				p.ZRem(pctx, r.ns+"exp", drop...)
				return nil
			})
			if err != nil {
				return n, err
			}
			n += len(members)
		}
	}
	msg := "=" + ikey
	if prefix {
		msg = "*" + ikey
	}
	return n, r.rdb.Publish(pctx, r.ns+"purge", msg).Err()
}

// trim drops index members whose entries have expired.
func (r *remote) trim(ctx context.Context) {
	if !r.usable() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for range 100 {
		// ZRANGEBYSCORE, not ZRANGE ... BYSCORE: it also works on Redis < 6.2, where ZRANGE ... BYSCORE does not
		members, err := r.rdb.ZRangeByScore(ctx, r.ns+"exp", &redis.ZRangeBy{Min: "-inf", Max: now, Count: 1000}).Result()
		if err != nil || len(members) == 0 {
			return
		}
		drop := make([]any, len(members))
		for i, m := range members {
			drop[i] = m
		}
		if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRem(ctx, r.ns+"idx", drop...)
			p.ZRem(ctx, r.ns+"exp", drop...)
			return nil
		}); err != nil {
			return
		}
	}
}

package wings

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/wings-bff/wings/framework/config"
)

// NewRedis builds the shared Redis client from cfg: a plain client in
// single mode, a cluster client (slot routing, MOVED/ASK redirects, replica
// promotion followed through CLUSTER SLOTS) in cluster mode. It returns nil
// when no Redis is configured. Code that uses it must keep the keys of one
// multi-key command in one hash slot (a {tag} in each key).
func NewRedis(cfg config.Redis) redis.UniversalClient {
	addrs := cfg.Servers()
	if len(addrs) == 0 {
		return nil
	}
	if cfg.Mode == config.RedisCluster {
		c := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        addrs,
			Password:     cfg.Password.Reveal(),
			DialTimeout:  cfg.DialTimeout,
			ReadTimeout:  cfg.ReadTimeout,
			WriteTimeout: cfg.WriteTimeout,
			PoolSize:     cfg.PoolSize,
		})
		c.AddHook(reloadOnNetError{c: c})
		return c
	}
	return redis.NewClient(&redis.Options{
		Addr:         addrs[0],
		DB:           cfg.DB,
		Password:     cfg.Password.Reveal(),
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		WriteTimeout: cfg.WriteTimeout,
		PoolSize:     cfg.PoolSize,
	})
}

// reloadOnNetError asks the cluster client to reload its slot map (CLUSTER
// SLOTS from a live node, in the background, one reload at a time) when a
// command fails on the network. A killed master never answers MOVED, the
// only error that makes go-redis reload at once: without this, commands for
// its slots keep dialing the dead address until the periodic reload
// (ClusterStateReloadInterval, 60 s), long after its replica was promoted.
type reloadOnNetError struct{ c *redis.ClusterClient }

func (h reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if netFailure(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if netFailure(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

// netFailure reports whether err says a node could not be reached or did
// not answer in time (not a Redis error reply, not a missing key).
func netFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded)
}

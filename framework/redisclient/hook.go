// Package redisclient instruments go-redis clients: a hook that records
// each command's latency and errors under a bounded command label.
package redisclient

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Hook is a go-redis hook (client.AddHook) exporting
// wings_redis_command_duration_seconds{cmd} and wings_redis_errors_total{cmd}.
// A pipeline is one observation labelled "pipeline"; redis.Nil (a missing
// key) is an answer, not an error.
type Hook struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

// commandBuckets cover 100 µs to 2.5 s: Redis answers in well under a
// millisecond on a healthy network.
var commandBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 2.5}

// NewHook registers the Redis metrics on reg.
func NewHook(reg prometheus.Registerer) *Hook {
	h := &Hook{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "wings", Name: "redis_command_duration_seconds",
			Help: "Redis command latency, by command (other commands are \"other\"; pipelines are \"pipeline\").", Buckets: commandBuckets,
		}, []string{"cmd"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "wings", Name: "redis_errors_total",
			Help: "Failed Redis commands (a missing key is not a failure), by command.",
		}, []string{"cmd"}),
	}
	reg.MustRegister(h.duration, h.errors)
	return h
}

// known reports whether name (lower case) is a command with its own label;
// any other command is "other", so the label stays bounded whatever a
// caller sends through Do.
func known(name string) bool {
	switch name {
	case "get", "set", "setex", "setnx", "psetex", "getset", "getdel", "getex", "mget", "mset", "del",
		"unlink", "exists", "expire", "pexpire", "expireat", "ttl", "pttl", "persist", "incr", "incrby",
		"decr", "decrby", "append", "strlen", "hget", "hset", "hmget", "hmset", "hgetall", "hdel",
		"hincrby", "hexists", "hlen", "hkeys", "lpush", "rpush", "lpop", "rpop", "lrange", "llen",
		"ltrim", "lrem", "sadd", "srem", "smembers", "sismember", "scard", "zadd", "zrem", "zrange",
		"zrangebyscore", "zrevrange", "zscore", "zcard", "zincrby", "zremrangebyscore", "eval",
		"evalsha", "script", "publish", "ping", "scan", "keys", "type", "info", "flushdb", "select",
		"hello", "client":
		return true
	}
	return false
}

// CommandLabel is cmd's metrics label: its lower-case name when known,
// else "other".
func CommandLabel(name string) string {
	name = strings.ToLower(name)
	if known(name) {
		return name
	}
	return "other"
}

// DialHook leaves dialing alone.
func (h *Hook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook times one command. Refusals of go-redis's connection setup
// (HELLO, CLIENT SETINFO: an older server refuses them and go-redis goes
// on) are not counted as errors, here and in pipelines.
func (h *Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		label := CommandLabel(cmd.Name())
		h.duration.WithLabelValues(label).Observe(time.Since(start).Seconds())
		if failed(err) && !handshake(cmd) {
			h.errors.WithLabelValues(label).Inc()
		}
		return err
	}
}

// ProcessPipelineHook times a pipeline as one observation and counts the
// failed commands in it by their own names.
func (h *Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.duration.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		for _, c := range cmds {
			if failed(c.Err()) && !handshake(c) {
				h.errors.WithLabelValues(CommandLabel(c.Name())).Inc()
			}
		}
		return err
	}
}

// handshake reports whether cmd is part of go-redis's connection setup.
func handshake(cmd redis.Cmder) bool {
	name := cmd.Name()
	return name == "hello" || name == "client"
}

func failed(err error) bool { return err != nil && !errors.Is(err, redis.Nil) }

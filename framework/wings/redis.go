package wings

import (
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
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:        addrs,
			Password:     cfg.Password.Reveal(),
			DialTimeout:  cfg.DialTimeout,
			ReadTimeout:  cfg.ReadTimeout,
			WriteTimeout: cfg.WriteTimeout,
			PoolSize:     cfg.PoolSize,
		})
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

package config

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/wings-bff/wings/framework/testkit"
)

// etcdPort is this package's own etcd instance (scripts/svc.sh uses it and
// the next port).
const etcdPort = "2471"

// startEtcd starts a real etcd on 127.0.0.1:2471 with scripts/svc.sh (which
// installs it when missing) and stops it when the test ends.
func startEtcd(t *testing.T) string {
	t.Helper()
	svc, err := filepath.Abs("../../scripts/svc.sh")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(svc, "start", "etcd", etcdPort).CombinedOutput()
	if err != nil {
		t.Fatalf("svc.sh start etcd %s: %v\n%s", etcdPort, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(svc, "stop", "etcd", etcdPort).CombinedOutput(); err != nil {
			t.Logf("svc.sh stop etcd: %v\n%s", err, out)
		}
	})
	return "127.0.0.1:" + etcdPort
}

type etcdTestConfig struct {
	Env    string `mapstructure:"env"`
	Server struct {
		Addr string `mapstructure:"addr"`
	} `mapstructure:"server"`
	Log struct {
		Level string `mapstructure:"level"`
	} `mapstructure:"log"`
	Upstreams map[string]struct {
		Timeout time.Duration `mapstructure:"timeout"`
		Retries int           `mapstructure:"retries"`
	} `mapstructure:"upstreams"`
	Redis struct {
		Password Secret `mapstructure:"password"`
	} `mapstructure:"redis"`
}

func writeDefault(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	yml := "server:\n  addr: 127.0.0.1:1\nlog:\n  level: info\nupstreams:\n  video:\n    timeout: 800ms\n    retries: 1\n"
	if err := os.WriteFile(filepath.Join(dir, "config.default.yaml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEtcdOverlay(t *testing.T) {
	addr := startEtcd(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{addr}, DialTimeout: 2 * time.Second, Logger: nopZap()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	root := "/wings-test-" + hex.EncodeToString(b[:]) + "/"
	shared, app := root+"shared/", root+"apps/video-bff/"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put := func(k, v string) {
		t.Helper()
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = cli.Delete(context.Background(), root, clientv3.WithPrefix()) })
	put(shared+"log/level", "debug")
	put(shared+"upstreams/video/timeout", "900ms")
	put(app+"upstreams/video/timeout", "500ms")
	put(app+"upstreams/video/retries", "3")

	src, err := NewEtcdSource(EtcdOptions{Endpoints: []string{addr}, Prefixes: []string{shared, app}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := writeDefault(t)
	load := func(environ ...string) (*etcdTestConfig, error) {
		t.Helper()
		ov, err := src.Overlay(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var c etcdTestConfig
		_, err = Load(Options{Dir: dir, Env: "test", Environ: environ, Overlay: ov, OverlayName: src.Name()}, &c)
		return &c, err
	}

	t.Run("shared then app prefix over the files", func(t *testing.T) {
		c, err := load()
		if err != nil {
			t.Fatal(err)
		}
		v := c.Upstreams["video"]
		if c.Log.Level != "debug" || v.Timeout != 500*time.Millisecond || v.Retries != 3 || c.Server.Addr != "127.0.0.1:1" {
			t.Errorf("got log.level %q, video %+v, addr %q; want debug, 500ms/3 (app prefix wins), the file's addr", c.Log.Level, v, c.Server.Addr)
		}
	})

	t.Run("environment wins over etcd", func(t *testing.T) {
		c, err := load("WINGS_LOG__LEVEL=warn")
		if err != nil {
			t.Fatal(err)
		}
		if c.Log.Level != "warn" {
			t.Errorf("log.level = %q; want warn", c.Log.Level)
		}
	})

	t.Run("unknown key in etcd is an error naming it", func(t *testing.T) {
		put(app+"upstreams/video/tiemout", "1s")
		defer cli.Delete(ctx, app+"upstreams/video/tiemout")
		_, err := load()
		if err == nil || !strings.Contains(err.Error(), "upstreams.video.tiemout: unknown key") {
			t.Errorf("err = %v; want upstreams.video.tiemout: unknown key", err)
		}
	})

	t.Run("secret in etcd is refused", func(t *testing.T) {
		put(app+"redis/password", "hunter2")
		defer cli.Delete(ctx, app+"redis/password")
		_, err := load()
		if err == nil || !strings.Contains(err.Error(), "redis.password: secrets may only come from the environment") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("err = %v; want redis.password refused without its value", err)
		}
	})

	t.Run("bad key path is an error naming the etcd key", func(t *testing.T) {
		put(app+"Log/Level", "debug")
		defer cli.Delete(ctx, app+"Log/Level")
		if _, err := src.Overlay(ctx); err == nil || !strings.Contains(err.Error(), app+"Log/Level") {
			t.Errorf("err = %v; want one naming %sLog/Level", err, app)
		}
	})

	t.Run("watch sees a change within seconds", func(t *testing.T) {
		wctx, wcancel := context.WithCancel(ctx)
		defer wcancel()
		got := make(chan map[string]any, 8)
		go src.Watch(wctx, func(m map[string]any, err error) {
			if err == nil {
				got <- m
			}
		})
		// The watch starts asynchronously: keep changing the value until a
		// callback shows it.
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case m := <-got:
				ups, _ := m["upstreams"].(map[string]any)
				video, _ := ups["video"].(map[string]any)
				if video["timeout"] == "250ms" {
					return
				}
			case <-tick.C:
				put(app+"upstreams/video/timeout", "250ms")
			case <-deadline:
				t.Fatal("no watch callback with upstreams.video.timeout=250ms within 10s")
			}
		}
	})
}

func TestEtcdUnreachable(t *testing.T) {
	addr := testkit.ClosedAddr(t)
	src, err := NewEtcdSource(EtcdOptions{Endpoints: []string{addr}, Prefixes: []string{"/wings/apps/x/"}, DialTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Overlay(context.Background()); err == nil {
		t.Fatal("Overlay from an unreachable etcd succeeded; want an error")
	}
}

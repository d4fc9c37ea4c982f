package chclient

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wings-bff/wings/framework/config"
)

func TestWithTimeoutSharesThePool(t *testing.T) {
	c, err := New(config.ClickHouse{Addr: "127.0.0.1:1", Database: "db", QueryTimeout: 3 * time.Second, MaxExecutionTime: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	long := c.WithTimeout(2 * time.Minute)
	if long.Timeout() != 2*time.Minute || long.maxExec != 2*time.Minute {
		t.Errorf("WithTimeout: timeout %s, max_execution_time %s; want 2m both", long.Timeout(), long.maxExec)
	}
	if c.Timeout() != 3*time.Second || c.maxExec != 3*time.Second {
		t.Errorf("the original changed: %s, %s", c.Timeout(), c.maxExec)
	}
	if long.Conn() != c.Conn() || long.Database() != "db" {
		t.Error("WithTimeout opened another pool")
	}
}

// TestHungServerConnectionsClosed: a server that accepts and never answers
// fails each handshake at the dial timeout, and every connection the client
// opened to it is closed again.
func TestHungServerConnectionsClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var open, accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			open.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c) // never answer; until the client closes
				open.Add(-1)
			}()
		}
	}()
	c, err := New(config.ClickHouse{Addr: ln.Addr().String(), Database: "db", PoolSize: 2,
		DialTimeout: 200 * time.Millisecond, QueryTimeout: time.Second, MaxExecutionTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		start := time.Now()
		err := c.Ping(context.Background())
		if took := time.Since(start); err == nil || took > 900*time.Millisecond {
			t.Fatalf("ping %d: %v after %s; want an error within the dial timeout", i, err, took)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n > 0 || accepted.Load() == 0 {
		t.Errorf("%d of %d connections to the hung server are still open", n, accepted.Load())
	}
}

func TestClusterHelpers(t *testing.T) {
	tests := []struct {
		cluster, local, on, in string
	}{
		{"", "events", "", "IN"},
		{"wings_cluster", "events_local", " ON CLUSTER wings_cluster", "GLOBAL IN"},
	}
	for _, tc := range tests {
		c, err := New(config.ClickHouse{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Cluster: tc.cluster, Database: "db"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Cluster() != tc.cluster || c.LocalTable("events") != tc.local || c.OnCluster() != tc.on {
			t.Errorf("cluster %q: Cluster %q LocalTable %q OnCluster %q; want %q %q %q",
				tc.cluster, c.Cluster(), c.LocalTable("events"), c.OnCluster(), tc.cluster, tc.local, tc.on)
		}
		if c.GlobalIn() != tc.in {
			t.Errorf("cluster %q: GlobalIn %q; want %q", tc.cluster, c.GlobalIn(), tc.in)
		}
		_ = c.Close()
	}
}

// TestFailsOverToNextAddr: the first server accepts and hangs up at once;
// a new connection moves on to the second, whose handshake is then seen.
func TestFailsOverToNextAddr(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	go func() {
		for {
			c, err := dead.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	second, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := second.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			_ = c.Close()
		}
	}()
	c, err := New(config.ClickHouse{Addrs: []string{dead.Addr().String(), second.Addr().String()}, Database: "db",
		DialTimeout: time.Second, QueryTimeout: 2 * time.Second, MaxExecutionTime: time.Second, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded against two servers that hang up")
	}
	if reached.Load() == 0 {
		t.Error("the second address was never dialled after the first hung up")
	}
}

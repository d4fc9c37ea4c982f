package chclient

import (
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

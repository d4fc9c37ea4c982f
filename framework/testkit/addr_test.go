package testkit

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestClosedAddr(t *testing.T) {
	addr := ClosedAddr(t)
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v; want connection refused", addr, err)
	}
	// Nobody can take the port while the test runs.
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("listen on %s succeeded; want the port held", addr)
	}
}

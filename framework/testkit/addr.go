// Package testkit helps tests of Wings applications with fake upstream
// teams: Upstream serves a Team on 127.0.0.1:0 for one test, answering
// from recorded files (Replay, which records them with WINGS_RECORD) or
// from code (Bodies, any Answer), under a Fault switched at any time
// (Down, Slow, Status, BrokenJSON); ClosedAddr is an address that refuses
// connections. It imports only the standard library; apptest runs an app
// over these fakes. See docs/testing.md.
package testkit

import (
	"fmt"
	"syscall"
	"testing"
)

// ClosedAddr returns a loopback address that refuses connections until
// the test ends: a socket bound to the port but never listening holds it,
// so no server started later can take it. (A port from a listener that
// was opened and closed again is free for anyone, and a server the test
// starts next may well be given it.)
func ClosedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

package wings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestNetFailure(t *testing.T) {
	for i, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{redis.Nil, false},
		{errors.New("ERR wrong number of arguments"), false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("lease: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true},
		{io.EOF, true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
	} {
		if got := netFailure(tc.err); got != tc.want {
			t.Errorf("Test %d: netFailure(%v) = %v; want %v", i, tc.err, got, tc.want)
		}
	}
}

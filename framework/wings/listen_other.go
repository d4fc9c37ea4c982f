//go:build !unix

package wings

import (
	"errors"
	"syscall"
)

// reusePortControl refuses: SO_REUSEPORT is a Unix socket option.
func reusePortControl(_, _ string, _ syscall.RawConn) error {
	return errors.New("server.reuse_port: SO_REUSEPORT is not supported on this system")
}

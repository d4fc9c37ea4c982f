package wings

import (
	"context"
	"fmt"
	"net"
)

// listen opens the server's listener on server.addr. With server.reuse_port
// the socket gets SO_REUSEPORT, so during a restart the new process binds
// the same address while the old one is still draining; the kernel spreads
// new connections over both until the old one closes its listener.
func (rt *Runtime) listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	if rt.cfg.Server.ReusePort {
		lc.Control = reusePortControl
	}
	ln, err := lc.Listen(ctx, "tcp", rt.cfg.Server.Addr)
	if err != nil {
		return nil, fmt.Errorf("server.addr: %w", err)
	}
	return ln, nil
}

package wings

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// servePprof serves net/http/pprof on server.pprof_addr (a loopback
// address, checked by config validation) until the returned stop is
// called. Profiles are kept off the application listener so they are
// never routed, cached or exposed through the load balancer.
func (rt *Runtime) servePprof() (stop func(), err error) {
	addr := rt.cfg.Server.PprofAddr
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	rt.pprofAddr.Store(ln.Addr().String())
	rt.log.WithField("addr", ln.Addr().String()).Info("pprof listening")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		rt.pprofAddr.Store("")
	}, nil
}

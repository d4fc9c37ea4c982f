package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/app/mockupstream"
)

func newMockUpstreamCmd() *cobra.Command {
	var (
		addr, notFound, teams string
		f                     mockupstream.Faults
		latency, slow         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mock-upstream",
		Short: "Serve the three upstream teams' fake APIs (video, album, star)",
		Long: `Serve team A (GET /video/info?id=N), team B (GET /album/ID) and team C
(GET /stars?video_id=N) deterministically by id, with optional latency and
faults. Fault flags apply to the teams listed in --teams. Faults can be
changed at run time: POST /_mock/faults {"album":{"error_rate":1}};
GET /_mock/stats counts calls per team; POST /_mock/reset clears both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids, err := mockupstream.ParseIDs(notFound)
			if err != nil {
				return err
			}
			for name, r := range map[string]float64{"error-rate": f.ErrorRate, "slow-rate": f.SlowRate, "malformed-rate": f.MalformedRate} {
				if r < 0 || r > 1 {
					return fmt.Errorf("--%s: must be between 0 and 1, got %v", name, r)
				}
			}
			f.Latency, f.SlowLatency = mockupstream.Duration(latency), mockupstream.Duration(slow)
			faults := map[string]mockupstream.Faults{}
			for _, t := range strings.Split(teams, ",") {
				t = strings.TrimSpace(t)
				if t == "all" {
					for _, name := range mockupstream.Teams {
						faults[name] = f
					}
					continue
				}
				if !validTeam(t) {
					return fmt.Errorf("--teams: unknown team %q (want video, album, star or all)", t)
				}
				faults[t] = f
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serveFake(ctx, "mock-upstream", addr, mockupstream.New(faults, ids).Handler(), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:9090", "listen address")
	fl.DurationVar(&latency, "latency", 0, "latency added to every answer")
	fl.Float64Var(&f.ErrorRate, "error-rate", 0, "fraction of answers that are HTTP 500")
	fl.Float64Var(&f.SlowRate, "slow-rate", 0, "fraction of answers delayed by --slow-latency")
	fl.DurationVar(&slow, "slow-latency", 2*time.Second, "delay of slow answers")
	fl.Float64Var(&f.MalformedRate, "malformed-rate", 0, "fraction of answers that are truncated JSON")
	fl.StringVar(&notFound, "not-found-ids", "404", "comma-separated video ids team A does not know")
	fl.StringVar(&teams, "teams", "all", "teams the fault flags apply to: video,album,star or all")
	return cmd
}

func validTeam(t string) bool {
	for _, name := range mockupstream.Teams {
		if t == name {
			return true
		}
	}
	return false
}

// serveFake serves one of the fake services (mock-upstream, mock-sso) on
// addr until ctx ends, then shuts it down gracefully.
func serveFake(ctx context.Context, name, addr string, h http.Handler, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "%s listening on http://%s\n", name, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

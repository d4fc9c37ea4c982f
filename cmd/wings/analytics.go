package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/app"
	"github.com/wings-bff/wings/app/dao"
	"github.com/wings-bff/wings/app/eventgen"
	"github.com/wings-bff/wings/app/model"
	"github.com/wings-bff/wings/framework/chclient"
)

// analyticsEnv loads the config and opens ClickHouse for the analytics tools.
func analyticsEnv(confDir string) (*app.Config, *chclient.Client, error) {
	cfg, _, err := loadConfig(confDir)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.ClickHouse.Servers()) == 0 {
		return nil, nil, errors.New("clickhouse.addr is empty: set WINGS_CLICKHOUSE__ADDR (e.g. 127.0.0.1:19000)")
	}
	ch, err := chclient.New(cfg.ClickHouse)
	if err != nil {
		return nil, nil, err
	}
	return cfg, ch, nil
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

func newSeedEventsCmd() *cobra.Command {
	var (
		confDir     string
		rows        int
		days        int
		batch       int
		seed        uint64
		users       uint64
		ifEmpty     bool
		latestShare float64
	)
	cmd := &cobra.Command{
		Use:   "seed-events",
		Short: "Insert realistic demo events over the last D days (up to now)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rows <= 0 || days <= 0 || batch <= 0 {
				return errors.New("--rows, --days and --batch must be > 0")
			}
			ctx, stop := signalContext()
			defer stop()
			cfg, ch, err := analyticsEnv(confDir)
			if err != nil {
				return err
			}
			defer ch.Close()
			loc, err := time.LoadLocation(cfg.Analytics.Timezone)
			if err != nil {
				return err
			}
			d := dao.NewAnalyticsDAO(ch, cfg.Analytics.Timezone)
			if ifEmpty {
				n, err := d.Count(ctx)
				if err != nil {
					return err
				}
				if n > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "events already holds %d rows: not seeding\n", n)
					return nil
				}
			}
			if users == 0 {
				users = uint64(max(1000, rows/30))
			}
			plan := planDays(rows, days, latestShare, time.Now().In(loc))
			return seedDays(ctx, cmd.ErrOrStderr(), d, eventgen.New(seed, users), plan, rows, batch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&confDir, "conf", "conf", "config directory")
	f.IntVar(&rows, "rows", 1_000_000, "about how many events to insert")
	f.IntVar(&days, "days", 30, "spread over this many days, ending now")
	f.IntVar(&batch, "batch", 500_000, "rows per insert (a batch never spans two days)")
	f.Uint64Var(&seed, "seed", 42, "random seed")
	f.Uint64Var(&users, "users", 0, "user pool size (default rows/30)")
	f.BoolVar(&ifEmpty, "if-empty", false, "do nothing when events already has rows")
	f.Float64Var(&latestShare, "latest-share", 0, "share of rows on the latest day (default: like any other day, +30% growth over the range)")
	return cmd
}

// dayPlan is one day's share of a seed.
type dayPlan struct {
	start, until time.Time
	rows         int
}

// planDays spreads rows over days ending at now (today counts the elapsed
// part of the day), growing 30% over the range, optionally putting a fixed
// share on the latest day.
func planDays(rows, days int, latestShare float64, now time.Time) []dayPlan {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	weights := make([]float64, days)
	total := 0.0
	for i := range weights {
		weights[i] = 1 + 0.3*float64(i)/float64(max(1, days-1))
		if i == days-1 {
			// Today only up to now.
			weights[i] *= max(0.05, now.Sub(today).Hours()/24)
		}
		total += weights[i]
	}
	plan := make([]dayPlan, days)
	for i := range plan {
		start := today.AddDate(0, 0, i-(days-1))
		n := int(float64(rows) * weights[i] / total)
		if latestShare > 0 {
			if i == days-1 {
				n = int(float64(rows) * latestShare)
			} else {
				n = int(float64(rows) * (1 - latestShare) * weights[i] / (total - weights[days-1]))
			}
		}
		until := start.AddDate(0, 0, 1)
		if i == days-1 {
			until = now
		}
		plan[i] = dayPlan{start: start, until: until, rows: n}
	}
	return plan
}

func seedDays(ctx context.Context, w io.Writer, d *dao.AnalyticsDAO, g *eventgen.Generator, plan []dayPlan, total, batch int) error {
	var cols model.EventColumns
	done, began := 0, time.Now()
	for _, p := range plan {
		for left := p.rows; left > 0; {
			n := min(left, batch)
			cols.Reset()
			g.Day(&cols, p.start, p.until, n)
			if err := d.InsertEvents(ctx, &cols); err != nil {
				return err
			}
			left -= n
			done += cols.Len()
			progress(w, done, total, began)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	fmt.Fprintln(w)
	return nil
}

func progress(w io.Writer, done, total int, began time.Time) {
	const width = 30
	frac := min(1, float64(done)/float64(max(1, total)))
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	rate := float64(done) / max(time.Since(began).Seconds(), 1e-3)
	fmt.Fprintf(w, "\r[%s] %3.0f%% %d/%d rows  %.0f rows/s", bar, frac*100, done, total, rate)
}

func newIngestSimCmd() *cobra.Command {
	var (
		confDir  string
		rate     int
		duration time.Duration
		seed     uint64
		users    uint64
	)
	cmd := &cobra.Command{
		Use:   "ingest-sim",
		Short: "Keep inserting live events (about R per second, one insert a second)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rate <= 0 {
				return errors.New("--rate must be > 0")
			}
			ctx, stop := signalContext()
			defer stop()
			if duration > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, duration)
				defer cancel()
			}
			cfg, ch, err := analyticsEnv(confDir)
			if err != nil {
				return err
			}
			defer ch.Close()
			d := dao.NewAnalyticsDAO(ch, cfg.Analytics.Timezone)
			g := eventgen.New(seed, users)
			var cols model.EventColumns
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			sent := 0
			for {
				select {
				case <-ctx.Done():
					fmt.Fprintf(cmd.ErrOrStderr(), "ingest-sim: %d events inserted\n", sent)
					return nil
				case now := <-tick.C:
					cols.Reset()
					g.Now(&cols, now, rate)
					if err := d.InsertEvents(ctx, &cols); err != nil {
						if ctx.Err() != nil {
							continue
						}
						fmt.Fprintln(os.Stderr, "ingest-sim: insert failed:", err)
						continue
					}
					sent += cols.Len()
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&confDir, "conf", "conf", "config directory")
	f.IntVar(&rate, "rate", 200, "events per second")
	f.DurationVar(&duration, "duration", 0, "stop after this long (0: until interrupted)")
	f.Uint64Var(&seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	f.Uint64Var(&users, "users", 30000, "user pool size")
	return cmd
}

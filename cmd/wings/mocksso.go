package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/auth/mocksso"
)

func newMockSSOCmd() *cobra.Command {
	var (
		addr, appKey, secretEnv string
		o                       mocksso.Options
	)
	cmd := &cobra.Command{
		Use:   "mock-sso",
		Short: "Serve a fake SSO and permission API that checks request signatures",
		Long: `Serve POST /sso/v1/session and POST /perm/v1/check like the company's SSO
and permission APIs, for make run and tests. Every call must carry
X-Wings-App-Key (= --app-key), X-Wings-Timestamp within --max-skew,
a fresh X-Wings-Nonce and X-Wings-Signature = hex HMAC-SHA256 of
"METHOD\nPATH\nTIMESTAMP\nNONCE" with the secret from $WINGS_AUTH__APP_SECRET
(or the variable --secret-env names); otherwise it answers 401
{"error":"bad_signature"|"stale_timestamp"|"bad_nonce"|"unknown_app_key"}.

Fixed sessions: demo-video (u-video, bizline:video), demo-music (u-music,
bizline:music), demo-admin (u-admin, bizline:*), demo-expired (expired).
GET /login is the SSO login page a browser is sent to (auth.login_url):
a form listing demo-video, demo-music and demo-admin that sends the
browser back to ?redirect= (loopback URLs only) with the chosen token and
the site's state. GET /_mock/stats counts calls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret := os.Getenv(secretEnv)
			if secret == "" {
				return fmt.Errorf("--secret-env: $%s is empty; the fake needs the shared app secret", secretEnv)
			}
			if o.MaxSkew <= 0 {
				return fmt.Errorf("--max-skew: must be > 0")
			}
			o.AppKey, o.Secret = appKey, []byte(secret)
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return serveFake(ctx, "mock-sso", addr, mocksso.New(o).Handler(), cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:9091", "listen address")
	fl.StringVar(&appKey, "app-key", "wings-video-bff", "the only app key accepted")
	fl.StringVar(&secretEnv, "secret-env", "WINGS_AUTH__APP_SECRET", "environment variable holding the app secret")
	fl.DurationVar(&o.MaxSkew, "max-skew", 5*time.Minute, "accepted timestamp drift")
	fl.DurationVar(&o.ClockOffset, "clock-offset", 0, "shift the fake's clock (to provoke stale timestamps)")
	fl.DurationVar(&o.SessionTTL, "session-ttl", time.Hour, "expiry reported for valid sessions")
	return cmd
}

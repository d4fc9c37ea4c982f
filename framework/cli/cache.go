package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newCacheCmd[C any, P Config[C]]() *cobra.Command {
	cmd := &cobra.Command{Use: "cache", Short: "Operate the response and data cache"}
	var confDir, server string
	purge := &cobra.Command{
		Use:   "purge TARGET",
		Short: "Purge cached entries on every instance",
		Long: `Purge cached entries through a running server's POST /admin/cache/purge:
Redis, this server's L1 and (through Redis pub/sub) every other instance's L1.

TARGET is a path (/api/video/42: every query, callback and scope of it), a
path prefix ending in / or * (/api/video/), a data key (dash:overview:video)
or a data key prefix ending in *.

The server is --server, else http://<server.addr> from the config; the
bearer token is admin.token, i.e. WINGS_ADMIN__TOKEN.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := LoadConfig[C](confDir)
			if err != nil {
				return err
			}
			base := P(cfg).Base()
			token := base.Admin.Token.Reveal()
			if token == "" {
				return fmt.Errorf("admin.token is not set: export WINGS_ADMIN__TOKEN (the server's token)")
			}
			if server == "" {
				server = "http://" + base.Server.Addr
			}
			body, _ := json.Marshal(map[string]string{"target": args[0]})
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost,
				strings.TrimRight(server, "/")+"/admin/cache/purge", bytes.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("purge %s: %s: %s", args[0], resp.Status, bytes.TrimSpace(out))
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(bytes.TrimSpace(out)))
			return nil
		},
	}
	confFlag(purge, &confDir)
	purge.Flags().StringVar(&server, "server", "", "base URL of a running server (default http://<server.addr>)")
	cmd.AddCommand(purge)
	return cmd
}

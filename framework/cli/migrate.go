package cli

import (
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/wings-bff/wings/framework/chclient"
)

func newMigrateCmd[C any, P Config[C]](migrations func(*C) ([]chclient.Migration, error)) *cobra.Command {
	var confDir string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the ClickHouse analytics schema (idempotent, versioned)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			cfg, _, err := LoadConfig[C](confDir)
			if err != nil {
				return err
			}
			chc := P(cfg).Base().ClickHouse
			if len(chc.Servers()) == 0 {
				return errors.New("clickhouse.addr is empty: set WINGS_CLICKHOUSE__ADDR")
			}
			if err := chclient.EnsureDatabase(ctx, chc); err != nil {
				return fmt.Errorf("create database: %w", err)
			}
			ch, err := chclient.New(chc)
			if err != nil {
				return err
			}
			defer ch.Close()
			ms, err := migrations(cfg)
			if err != nil {
				return err
			}
			applied, err := ch.Migrate(ctx, ms)
			for _, a := range applied {
				fmt.Fprintln(cmd.OutOrStdout(), "applied", a)
			}
			if err != nil {
				return err
			}
			redefined, err := ch.RedefineDistributed(ctx, ms)
			for _, r := range redefined {
				fmt.Fprintln(cmd.OutOrStdout(), "redefined the Distributed table", r)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema up to date (%d migrations, database %s)\n", len(ms), chc.Database)
			return nil
		},
	}
	confFlag(cmd, &confDir)
	return cmd
}

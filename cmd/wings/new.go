package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newNewCmd() *cobra.Command {
	return &cobra.Command{Use: "new <dir>", Hidden: true, RunE: func(*cobra.Command, []string) error { return errors.New("not yet") }}
}

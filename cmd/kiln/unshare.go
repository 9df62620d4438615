package main

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"

	"github.com/spf13/cobra"
)

func init() { register(newUnshareCmd) }

func newUnshareCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unshare [COMMAND [ARG...]]",
		Short: "Run a command (default: a shell) in kiln's user namespace",
		Long: "Run a command in the user and mount namespace kiln uses, like buildah unshare: " +
			"as an unprivileged user, files the store holds under other ids can be read and removed there.",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				shell := os.Getenv("SHELL")
				if shell == "" {
					shell = "/bin/sh"
				}
				args = []string{shell}
			}
			c := osexec.CommandContext(cmd.Context(), args[0], args[1:]...)
			c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
			err := c.Run()
			var ee *osexec.ExitError
			if errors.As(err, &ee) {
				return &exitCodeError{code: ee.ExitCode()}
			}
			if err != nil {
				return fmt.Errorf("running %s: %w", args[0], err)
			}
			return nil
		},
	}
	// Flags after COMMAND belong to it.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

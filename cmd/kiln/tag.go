package main

import (
	"github.com/spf13/cobra"
)

func init() { register(newTagCmd) }

func newTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag IMAGE NAME [NAME...]",
		Short: "Add names to an image",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			return st.Tag(args[0], args[1:]...)
		},
	}
}

package main

import (
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newTagCmd) }

func newTagCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tag IMAGE NAME [NAME...]",
		Short: "Add names to an image",
		Args:  cobra.MinimumNArgs(2),
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			return st.Tag(args[0], args[1:]...)
		}),
	}
}

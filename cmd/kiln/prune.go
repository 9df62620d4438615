package main

import (
	"fmt"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newPruneCmd) }

func newPruneCmd(g *globals) *cobra.Command {
	var (
		all, force bool
		filters    []string
	)
	cmd := &cobra.Command{
		Use:     "prune [flags]",
		Aliases: []string{"image-prune"},
		Short:   "Remove dangling images, or with -a every image no container uses",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = force // kiln never prompts: -f is accepted for podman compatibility
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := st.Prune(cmd.Context(), storage.PruneOptions{All: all, Filters: filters})
			if rep != nil {
				for _, id := range rep.Deleted {
					fmt.Fprintln(out(cmd), id)
				}
				if len(rep.Deleted) > 0 {
					fmt.Fprintf(out(cmd), "Total reclaimed space: %s\n", units.HumanSize(float64(rep.Reclaimed)))
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	fl.BoolVarP(&force, "force", "f", false, "do not prompt (kiln never prompts)")
	fl.StringArrayVar(&filters, "filter", nil, "filter: until=DURATION|TIME, label=KEY[=VALUE], label!=KEY[=VALUE]")
	return cmd
}

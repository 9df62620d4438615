package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

// errStoreDamaged is what kiln system check returns when it found problems it did not repair.
var errStoreDamaged = errors.New("the store has problems: run kiln system check --repair to remove the damaged items")

func newSystemCheckCmd(g *globals) *cobra.Command {
	var (
		repair, quick bool
		maxAge        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check [flags]",
		Short: "Check the store for damaged layers, images and containers, and with --repair remove them",
		Args:  cobra.NoArgs,
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			opts := storage.CheckOptions{Quick: quick, UnreferencedMaxAge: maxAge}
			rep, err := st.Check(opts)
			if err != nil {
				return err
			}
			if rep.OK() {
				fmt.Fprintln(out(cmd), "ok")
				return nil
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(out(cmd), p.String())
			}
			if !repair {
				return &exitCodeError{code: 1, err: fmt.Errorf("%d problems: %w", len(rep.Problems), errStoreDamaged)}
			}
			if err := st.Repair(rep); err != nil {
				return err
			}
			after, err := st.Check(opts)
			if err != nil {
				return err
			}
			if !after.OK() {
				for _, p := range after.Problems {
					fmt.Fprintln(out(cmd), "still: "+p.String())
				}
				return &exitCodeError{code: 1, err: fmt.Errorf("repair left %d problems", len(after.Problems))}
			}
			fmt.Fprintf(out(cmd), "repaired: %d problems fixed\n", len(rep.Problems))
			return nil
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&repair, "repair", "r", false, "remove damaged images, layers and containers")
	fl.BoolVarP(&quick, "quick", "q", false, "skip recomputing layer digests")
	fl.DurationVarP(&maxAge, "max", "m", 0, "report layers no image uses once older than this (default 24h)")
	return cmd
}

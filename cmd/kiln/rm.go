package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newRmCmd) }

func newRmCmd(g *globals) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "rm [flags] CONTAINER...",
		Short: "Remove working containers and containers started by kiln run",
		Long: "Remove containers and their writable layers. A running container is only removed with " +
			"--force, which kills it first.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return fmt.Errorf("name containers to remove, or give --all: %w", fs.ErrInvalid)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if all {
				if args, err = allContainerIDs(st); err != nil {
					return err
				}
			}
			var errs []error
			for _, name := range args {
				if err := rmContainer(st, name, force); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(out(cmd), name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every kiln container")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill running containers before removing them")
	return cmd
}

func rmContainer(st *storage.Store, name string, force bool) error {
	c, err := lookupContainer(st, name)
	if err != nil {
		return err
	}
	if c.Kind == storage.KindRun {
		s, err := runState(st, c)
		if err != nil {
			return err
		}
		if s.SupervisorAlive() {
			if !force {
				return fmt.Errorf("container %s is running: stop it first, or use --force", c.Name)
			}
			if err := stop(st, c, 0); err != nil {
				return err
			}
			// A container run with --rm is gone with its supervisor.
			if _, err := st.LookupContainer(c.ID); errors.Is(err, fs.ErrNotExist) {
				return nil
			}
		}
	}
	return removeContainer(st, c)
}

// allContainerIDs lists every container of the store, for --all.
func allContainerIDs(st *storage.Store) ([]string, error) {
	cs, err := st.Containers()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

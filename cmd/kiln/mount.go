package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/userns"
)

func init() {
	register(newMountCmd)
	register(newUmountCmd)
}

func newMountCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "mount CONTAINER...",
		Short: "Mount a working container's root and print where",
		Long: "Mount the root filesystem of containers and print each mount point. Every kiln runs in a private " +
			"mount namespace, so the mount lasts only as long as the namespace: run kiln mount inside kiln " +
			"unshare, as with buildah (kiln unshare sh -c 'd=$(kiln mount c); ls $d; kiln umount c').",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if userns.OwnsNamespaces() {
				return fmt.Errorf("a mount made here would vanish when kiln exits: run kiln mount inside kiln unshare: %w",
					errors.ErrUnsupported)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			for _, name := range args {
				c, err := lookupContainer(st, name)
				if err != nil {
					return err
				}
				// The mount stays: release is the job of kiln umount.
				root, _, err := container.Mount(st, c)
				if err != nil {
					return err
				}
				if len(args) == 1 {
					fmt.Fprintln(out(cmd), root)
				} else {
					fmt.Fprintf(out(cmd), "%s %s\n", c.Name, root)
				}
			}
			return nil
		},
	}
}

func newUmountCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "umount CONTAINER...",
		Aliases: []string{"unmount"},
		Short:   "Unmount a working container's root mounted by kiln mount",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return fmt.Errorf("name containers to unmount, or give --all: %w", fs.ErrInvalid)
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
				c, err := lookupContainer(st, name)
				if err == nil {
					err = container.Unmount(st, c)
				}
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "unmount every kiln container")
	return cmd
}

package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newRmiCmd) }

func newRmiCmd(g *globals) *cobra.Command {
	var force, all bool
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE [IMAGE...]",
		Short: "Remove images, or names of images",
		Long: "Remove images by name, id or id prefix. Removing one name of an image with several only untags it. " +
			"An image used by a container or with child images is refused unless -f.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all {
				return fmt.Errorf("name at least one image, or use --all")
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if all {
				return removeAll(cmd, st, force)
			}
			rep, err := st.Remove(args, force)
			if perr := printRemoved(out(cmd), rep); perr != nil && err == nil {
				err = perr
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove images in use by containers, with children, or with several names")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image")
	return cmd
}

// removeAll is rmi --all: every image no container uses goes, children
// before parents; with force the others too, with their containers.
func removeAll(cmd *cobra.Command, st *storage.Store, force bool) error {
	rep, err := st.Prune(cmd.Context(), storage.PruneOptions{All: true})
	if perr := printRemoved(out(cmd), rep); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	left, err := st.Images(cmd.Context(), storage.ListOptions{All: true})
	if err != nil || len(left) == 0 {
		return err
	}
	if !force {
		return fmt.Errorf("%d images are used by containers, such as %s (use -f to remove them and their containers)",
			len(left), shortID(left[0].ID))
	}
	var ids []string
	for _, img := range left {
		ids = append(ids, img.ID)
	}
	rep, err = st.Remove(ids, true)
	if perr := printRemoved(out(cmd), rep); err == nil {
		err = perr
	}
	return err
}

// printRemoved prints what rmi and prune did, as podman does.
func printRemoved(w io.Writer, rep *storage.RemoveReport) error {
	if rep == nil {
		return nil
	}
	for _, n := range rep.Untagged {
		if _, err := fmt.Fprintf(w, "Untagged: %s\n", n); err != nil {
			return err
		}
	}
	for _, id := range rep.Deleted {
		if _, err := fmt.Fprintf(w, "Deleted: %s\n", id); err != nil {
			return err
		}
	}
	return nil
}

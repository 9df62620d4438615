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
				imgs, err := st.Images(cmd.Context(), storage.ListOptions{All: true})
				if err != nil {
					return err
				}
				for _, img := range imgs {
					args = append(args, img.ID)
				}
			}
			rep, err := st.Remove(args, force || all)
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

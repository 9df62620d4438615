package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newContainersCmd) }

// containerRow is one container of kiln containers, with buildah's JSON
// keys.
type containerRow struct {
	ID            string `json:"id"`
	Builder       bool   `json:"builder"`
	ImageID       string `json:"imageid"`
	ImageName     string `json:"imagename"`
	ContainerName string `json:"containername"`
}

func newContainersCmd(g *globals) *cobra.Command {
	var (
		all, quiet, noTrunc, noHeading bool
		format                         string
	)
	cmd := &cobra.Command{
		Use:   "containers [flags]",
		Short: "List working containers",
		Long:  "List the working containers made by kiln from; with --all, the containers kiln run made too.",
		Args:  cobra.NoArgs,
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			cs, err := st.Containers()
			if err != nil {
				return err
			}
			rows := []containerRow{}
			for _, c := range cs {
				if c.Kind == storage.KindWorking || all {
					rows = append(rows, containerRow{ID: c.ID, Builder: c.Kind == storage.KindWorking, ImageID: c.FromImageID,
						ImageName: c.FromImage, ContainerName: c.Name})
				}
			}
			w := out(cmd)
			switch {
			case isJSON(format):
				return printJSON(w, rows)
			case format != "":
				return render(w, format, rows, table{noHeading: noHeading})
			}
			tw := newTable(w)
			if !quiet && !noHeading {
				fmt.Fprintln(tw, "CONTAINER ID\tBUILDER\tIMAGE ID\tIMAGE NAME\tCONTAINER NAME")
			}
			for _, r := range rows {
				id, imageID := r.ID, r.ImageID
				if !noTrunc {
					id, imageID = shortID(id), shortID(imageID)
				}
				if quiet {
					fmt.Fprintln(tw, id)
					continue
				}
				builder := ""
				if r.Builder {
					builder = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, builder, imageID, r.ImageName, r.ContainerName)
			}
			return tw.Flush()
		}),
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "list containers made by kiln run too")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only container ids")
	fl.BoolVar(&noTrunc, "notruncate", false, "do not truncate ids")
	fl.BoolVarP(&noHeading, "noheading", "n", false, "do not print the column headings")
	fl.StringVar(&format, "format", "", "json, or a Go template such as '{{.ContainerName}}'")
	return cmd
}

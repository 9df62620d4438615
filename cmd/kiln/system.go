package main

import (
	"fmt"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newSystemCmd) }

func newSystemCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage the store: disk usage, information, pruning",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDfCmd(g), newInfoCmd(g), newPruneCmd(g), newSystemCheckCmd(g))
	return cmd
}

// dfRow is one line of kiln system df.
type dfRow struct {
	Type        string `json:"Type"`
	Total       int    `json:"Total"`
	Active      int    `json:"Active"`
	RawSize     int64  `json:"RawSize"`
	RawReclaim  int64  `json:"RawReclaimable"`
	Size        string `json:"Size"`
	Reclaimable string `json:"Reclaimable"`
}

func newDfCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df",
		Short: "Show the disk space images and containers use",
		Args:  cobra.NoArgs,
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			du, err := st.DiskUsage()
			if err != nil {
				return err
			}
			rows := []dfRow{dfRowOf("Images", du.Images), dfRowOf("Containers", du.Containers),
				dfRowOf("Local Volumes", storage.Usage{})}
			if isJSON(format) {
				return printJSON(out(cmd), rows)
			}
			if format == "" {
				format = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
			}
			return render(out(cmd), format, rows, table{})
		}),
	}
	cmd.Flags().StringVar(&format, "format", "", "json, or a Go template such as '{{.Type}} {{.Size}}'")
	return cmd
}

func dfRowOf(typ string, u storage.Usage) dfRow {
	pct := 0
	if u.Size > 0 {
		pct = int(u.Reclaimable * 100 / u.Size)
	}
	return dfRow{Type: typ, Total: u.Total, Active: u.Active, RawSize: u.Size, RawReclaim: u.Reclaimable,
		Size: units.HumanSize(float64(u.Size)), Reclaimable: fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(u.Reclaimable)), pct)}
}

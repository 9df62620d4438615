package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newHistoryCmd) }

func newHistoryCmd(g *globals) *cobra.Command {
	var (
		format                string
		noTrunc, quiet, human bool
	)
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			entries, err := st.History(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := out(cmd)
			if isJSON(format) {
				return printJSON(w, entries)
			}
			rows := historyRows(entries, noTrunc, human)
			if quiet {
				for _, r := range rows {
					if _, err := fmt.Fprintln(w, r.ID); err != nil {
						return err
					}
				}
				return nil
			}
			if format == "" {
				format = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			}
			return render(w, format, rows, table{headers: map[string]string{"CreatedSince": "CREATED", "CreatedBy": "CREATED BY"}})
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "json, or a Go template such as '{{.ID}} {{.CreatedBy}}'")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate ids and commands")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only ids")
	fl.BoolVarP(&human, "human", "H", true, "sizes and dates in human-readable form")
	return cmd
}

// historyRow is one line of kiln history; its fields are what --format
// templates can use.
type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
	Created                                               time.Time
	Tags                                                  []string
}

func historyRows(entries []storage.HistoryEntry, noTrunc, human bool) []historyRow {
	rows := make([]historyRow, 0, len(entries))
	for _, e := range entries {
		r := historyRow{ID: e.ID, CreatedBy: e.CreatedBy, Comment: e.Comment, Tags: e.Tags,
			Size: humanSize(e.Size), CreatedSince: "<unknown>"}
		if e.ID != "<missing>" {
			r.ID = shortID(e.ID)
			if noTrunc {
				r.ID = "sha256:" + e.ID
			}
		}
		if e.Created != nil {
			r.Created, r.CreatedAt, r.CreatedSince = *e.Created, e.Created.Format(time.RFC3339), humanSince(*e.Created)
		}
		if !human {
			r.Size, r.CreatedSince = fmt.Sprint(e.Size), r.CreatedAt
		}
		if !noTrunc {
			r.CreatedBy = truncateText(r.CreatedBy, 45)
		}
		rows = append(rows, r)
	}
	return rows
}

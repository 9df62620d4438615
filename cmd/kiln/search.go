package main

import (
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newSearchCmd) }

func newSearchCmd(g *globals) *cobra.Command {
	var (
		sys     sysFlags
		format  string
		limit   int
		noTrunc bool
	)
	cmd := &cobra.Command{
		Use:   "search [flags] TERM",
		Short: "Search registries for images",
		Long: "Search a registry for repositories: HOST[:PORT]/TEXT searches that registry, TEXT the " +
			"unqualified-search registries of registries.conf. The registry's search API is used, else its catalog.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := sys.options()
			if err != nil {
				return err
			}
			res, err := storage.Search(cmd.Context(), opts, args[0], limit)
			if err != nil {
				return err
			}
			if isJSON(format) {
				return printJSON(out(cmd), res)
			}
			if !noTrunc {
				for i := range res {
					res[i].Description = truncateText(res[i].Description, 44)
				}
			}
			if format == "" {
				format = "table {{.Name}}\t{{.Description}}"
			}
			return render(out(cmd), format, res, table{})
		},
	}
	fl := cmd.Flags()
	sys.add(fl)
	fl.StringVar(&format, "format", "", "json, or a Go template such as '{{.Name}}'")
	fl.IntVar(&limit, "limit", 25, "at most this many results per registry")
	fl.BoolVar(&noTrunc, "no-trunc", false, "do not truncate descriptions")
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newLoadCmd) }

func newLoadCmd(g *globals) *cobra.Command {
	var (
		input string
		quiet bool
	)
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Load the images of a docker-archive or oci-archive",
		Long: "Load every image of a docker-archive or oci-archive (compressed or not; the format is detected) " +
			"from -i FILE or standard input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := storage.LoadOptions{Input: input}
			if !quiet {
				opts.Progress = cmd.ErrOrStderr()
			}
			if input == "" {
				if isTerminal(os.Stdin) {
					return fmt.Errorf("no archive: use -i FILE or redirect standard input")
				}
				opts.Reader = cmd.InOrStdin()
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			names, err := st.Load(cmd.Context(), opts)
			for _, n := range names {
				if _, perr := fmt.Fprintf(out(cmd), "Loaded image: %s\n", n); perr != nil && err == nil {
					err = perr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "read the archive from this file (default standard input)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	return cmd
}

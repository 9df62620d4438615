package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func init() { register(newExportCmd) }

func newExportCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [flags] IMAGE",
		Short: "Write the flattened filesystem of an image as a tar",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			w := out(cmd)
			if output == "" && isTerminal(os.Stdout) {
				return fmt.Errorf("refusing to write a tar to a terminal: use -o FILE or redirect standard output")
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			if output == "" {
				return st.Export(cmd.Context(), args[0], w)
			}
			f, err := os.CreateTemp(filepath.Dir(output), ".kiln-export-*.tar")
			if err != nil {
				return fmt.Errorf("creating %s: %w", output, err)
			}
			defer func() {
				if err != nil {
					err = errors.Join(err, os.Remove(f.Name()))
				}
			}()
			if err := st.Export(cmd.Context(), args[0], f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("writing %s: %w", output, err)
			}
			if err := os.Chmod(f.Name(), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", output, err)
			}
			if err := os.Rename(f.Name(), output); err != nil {
				return fmt.Errorf("writing %s: %w", output, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file (default standard output)")
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newSaveCmd) }

func newSaveCmd(g *globals) *cobra.Command {
	var (
		output, format string
		quiet, multi   bool
	)
	cmd := &cobra.Command{
		Use:   "save [flags] IMAGE [IMAGE...]",
		Short: "Save images to an archive",
		Long: "Save images to a docker-archive (default) or oci-archive file, or an OCI layout directory (oci-dir). " +
			"Several images go into one archive. Without -o the archive goes to standard output, unless that is a terminal.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := storage.SaveOptions{Format: format, Output: output}
			if !quiet {
				opts.Progress = cmd.ErrOrStderr()
			}
			if output == "" {
				if isTerminal(os.Stdout) {
					return fmt.Errorf("refusing to write an archive to a terminal: use -o FILE or redirect standard output")
				}
				opts.Writer = out(cmd)
				opts.Progress = nil
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			return st.Save(cmd.Context(), args, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&output, "output", "o", "", "write to this file (a directory for oci-dir)")
	fl.StringVar(&format, "format", storage.FormatDockerArchive, "docker-archive, oci-archive or oci-dir")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	fl.BoolVarP(&multi, "multi-image-archive", "m", true, "accepted for podman compatibility: archives always hold every image given")
	return cmd
}

// isTerminal reports whether f is a character device such as a terminal.
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

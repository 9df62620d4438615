package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newImportCmd) }

type importFlags struct {
	changes  []string
	message  string
	platform platformFlags
	quiet    bool
}

func newImportCmd(g *globals) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|- [NAME]",
		Short: "Make a one-layer image from a root filesystem tarball",
		Long: "Make an image whose only layer is a root filesystem tarball (plain, gzip, zstd, xz or bzip2; - reads " +
			"standard input). --change applies CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, " +
			"VOLUME or WORKDIR instructions to its config. Prints the image id.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			return runImport(cmd, g, &f, args[0], name)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.changes, "change", "c", nil, "apply a Dockerfile instruction to the config, such as 'CMD [\"sh\"]' (repeatable)")
	fl.StringVarP(&f.message, "message", "m", "", "comment for the image's history")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image id")
	f.platform.add(fl)
	return cmd
}

func runImport(cmd *cobra.Command, g *globals, f *importFlags, source, name string) error {
	var sys storage.SystemOptions
	if err := f.platform.apply(&sys); err != nil {
		return err
	}
	cfg := &storage.Image{OS: sys.OS, Architecture: sys.Architecture, Variant: sys.Variant}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	if cfg.Architecture == "" {
		cfg.Architecture = runtime.GOARCH
	}
	if err := applyChanges(cfg, f.changes); err != nil {
		return err
	}
	var r io.Reader = cmd.InOrStdin()
	label := "standard input"
	if source != "-" {
		file, err := os.Open(source)
		if err != nil {
			return fmt.Errorf("importing %s: %w", source, errors.Unwrap(err))
		}
		defer file.Close()
		r, label = file, source
	}
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	rec, err := st.Import(cmd.Context(), storage.ImportOptions{Source: r, Name: name, Config: cfg, Message: f.message})
	if err != nil {
		return fmt.Errorf("importing %s: %w", label, err)
	}
	_, err = fmt.Fprintln(out(cmd), rec.ID)
	return err
}

package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newPushCmd) }

func newPushCmd(g *globals) *cobra.Command {
	var (
		sys              sysFlags
		format, digest   string
		quiet, removeSig bool
		compression      string
		level            int
	)
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [DESTINATION]",
		Short: "Push an image to a registry or any transport",
		Long: "Push an image from the store. DESTINATION is any transport reference; " +
			"a name without transport means docker://NAME, and none the image's own name.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := storage.PushOptions{Format: format, RemoveSignatures: removeSig, Progress: cmd.ErrOrStderr(),
				Compression: compression}
			if cmd.Flags().Changed("compression-level") {
				opts.CompressionLevel = &level
			}
			if len(args) == 2 {
				opts.Dest = args[1]
			}
			if quiet {
				opts.Progress = io.Discard
			}
			var err error
			if opts.System, err = sys.options(); err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			d, err := st.Push(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if digest != "" {
				if err := os.WriteFile(digest, []byte(d.String()), 0o644); err != nil {
					return fmt.Errorf("writing --digestfile: %w", err)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	sys.add(fl)
	fl.StringVarP(&format, "format", "f", "", "manifest format: oci or docker (default: keep the image's)")
	fl.StringVar(&digest, "digestfile", "", "write the digest of the pushed manifest to this file")
	fl.BoolVar(&removeSig, "remove-signatures", false, "do not copy signatures")
	fl.StringVar(&compression, "compression-format", "", "layer compression: gzip, zstd or zstd:chunked (default gzip; when set, every layer is sent in it)")
	fl.IntVar(&level, "compression-level", 0, "compression level of the format (default: the format's own)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	return cmd
}

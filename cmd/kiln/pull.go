package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newPullCmd) }

func newPullCmd(g *globals) *cobra.Command {
	var (
		sys      sysFlags
		platform platformFlags
		quiet    bool
	)
	cmd := &cobra.Command{
		Use:   "pull [flags] NAME",
		Short: "Pull an image from a registry or any transport into the store",
		Long: "Pull an image into the store. A short name is resolved through registries.conf; " +
			"a transport prefix (docker://, oci:, oci-archive:, docker-archive:, dir:) reads from there.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := sys.options()
			if err != nil {
				return err
			}
			if err := platform.apply(&opts); err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			var progress io.Writer = cmd.ErrOrStderr()
			if quiet {
				progress = nil
			}
			rec, err := st.Pull(cmd.Context(), args[0], storage.PullOptions{System: opts, Progress: progress})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out(cmd), rec.ID)
			return err
		},
	}
	fl := cmd.Flags()
	sys.add(fl)
	platform.add(fl)
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only the image id")
	return cmd
}

package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newCommitCmd) }

type commitFlags struct {
	format, timestamp, iidfile string
	changes                    []string
	squash, rm, quiet          bool
	sys                        sysFlags
}

func newCommitCmd(g *globals) *cobra.Command {
	var f commitFlags
	cmd := &cobra.Command{
		Use:   "commit [flags] CONTAINER [IMAGE]",
		Short: "Make an image of a working container",
		Long: "Make an image of a container: its image's layers, one new layer with what changed in the " +
			"container, and its config (kiln config, --change). IMAGE is a name in the store or any transport " +
			"reference; without it the image is untagged. Prints the image id.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			return runCommit(cmd, g, &f, args[0], dest)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.format, "format", "f", "oci", "manifest format: oci or docker")
	fl.BoolVar(&f.squash, "squash", false, "make the image a single layer")
	fl.BoolVar(&f.rm, "rm", false, "remove the container once committed")
	fl.StringVar(&f.timestamp, "timestamp", "", "seconds since the epoch for the image's created time and the new layer's file times")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image id to this file")
	fl.StringArrayVarP(&f.changes, "change", "c", nil, "apply a Dockerfile instruction to the config, such as 'CMD [\"sh\"]' (repeatable)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print no progress")
	f.sys.add(fl)
	return cmd
}

func runCommit(cmd *cobra.Command, g *globals, f *commitFlags, name, dest string) error {
	o := container.CommitOptions{Dest: dest}
	switch f.format {
	case "oci", "":
		o.Format = storage.FormatOCI
	case "docker":
		o.Format = storage.FormatDocker
	default:
		return fmt.Errorf("--format %q: want oci or docker", f.format)
	}
	if f.timestamp != "" {
		secs, err := strconv.ParseInt(f.timestamp, 10, 64)
		if err != nil {
			return fmt.Errorf("--timestamp %q: want seconds since the epoch", f.timestamp)
		}
		t := time.Unix(secs, 0).UTC()
		o.Timestamp = &t
	}
	o.Squash = f.squash
	if len(f.changes) > 0 {
		o.Edit = func(img *storage.Image) error { return applyChanges(img, f.changes) }
	}
	opts, err := f.sys.options()
	if err != nil {
		return err
	}
	if o.Commit.Sys, err = opts.SystemContext(); err != nil {
		return err
	}
	if !f.quiet && storage.HasTransport(dest) {
		o.Commit.Progress = cmd.ErrOrStderr()
	} else {
		o.Commit.Progress = io.Discard
	}
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := lookupContainer(st, name)
	if err != nil {
		return err
	}
	res, err := container.Commit(cmd.Context(), st, c, o)
	if err != nil {
		return err
	}
	id := res.ID
	if id == "" {
		id = res.ConfigDigest.Encoded()
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte("sha256:"+id), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if f.rm {
		if err := rmContainer(st, c.ID, false); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(out(cmd), id)
	return err
}

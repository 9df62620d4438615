package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newFromCmd) }

// pullFlags choose when an image named on the command line is pulled.
type pullFlags struct {
	pull  string
	sys   sysFlags
	quiet bool
}

func (p *pullFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&p.pull, "pull", "missing", "pull policy: always, missing, never")
	fl.Lookup("pull").NoOptDefVal = "always"
	p.sys.add(fl)
}

func newFromCmd(g *globals) *cobra.Command {
	var (
		f    pullFlags
		name string
	)
	cmd := &cobra.Command{
		Use:   "from [flags] IMAGE|scratch",
		Short: "Make a working container from an image",
		Long: "Make a working container from an image (pulled when missing) or from scratch, and print its name. " +
			"Change it with kiln run, copy, add and config, and make an image of it with kiln commit.",
		Args: cobra.ExactArgs(1),
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			c, err := newContainer(cmd, st, &f, args[0], name, storage.KindWorking)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(out(cmd), c.Name)
			return err
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "name of the working container (default IMAGE-working-container)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print no pull progress")
	f.add(fl)
	return cmd
}

// newContainer makes a container of kind from image ("scratch" for none).
func newContainer(cmd *cobra.Command, st *storage.Store, f *pullFlags, image, name, kind string) (*storage.Container, error) {
	opts := storage.ContainerOptions{Name: name, Kind: kind, ImageName: image}
	if image == "scratch" {
		opts.Config = &storage.Image{OS: "linux", Architecture: runtime.GOARCH, RootFS: storage.RootFS{Type: "layers"}}
		return st.CreateContainer(cmd.Context(), opts)
	}
	rec, err := findImage(cmd, st, f, image)
	if err != nil {
		return nil, err
	}
	cfg, _, err := st.Config(cmd.Context(), rec)
	if err != nil {
		return nil, err
	}
	opts.Image, opts.Config = rec, cfg
	return st.CreateContainer(cmd.Context(), opts)
}

// findImage finds image in the store, pulling it as the pull policy says.
func findImage(cmd *cobra.Command, st *storage.Store, f *pullFlags, image string) (*storage.ImageRecord, error) {
	policy := f.pull
	switch policy {
	case "always", "missing", "never":
	case "", "true":
		policy = "always"
	case "false":
		policy = "never"
	default:
		return nil, fmt.Errorf("--pull %q: want always, missing or never: %w", f.pull, fs.ErrInvalid)
	}
	if policy != "always" && !storage.HasTransport(image) {
		rec, err := st.Lookup(image)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return rec, err
		}
		if policy == "never" {
			return nil, fmt.Errorf("image %q is not in the store and --pull=never: %w", image, fs.ErrNotExist)
		}
	}
	sys, err := f.sys.options()
	if err != nil {
		return nil, err
	}
	var progress io.Writer = cmd.ErrOrStderr()
	if f.quiet {
		progress = nil
	}
	rec, err := st.Pull(cmd.Context(), image, storage.PullOptions{System: sys, Progress: progress})
	if err != nil {
		return nil, fmt.Errorf("image %q is not in the store, and pulling it failed: %w", image, oneLine{err})
	}
	return rec, nil
}

// oneLine shows a multi-line error on one line, keeping it for errors.Is.
type oneLine struct{ err error }

func (e oneLine) Error() string { return strings.Join(strings.Fields(e.err.Error()), " ") }
func (e oneLine) Unwrap() error { return e.err }

// lookupContainer finds the kiln container named by name; a missing one is
// "container "NAME" not found in the store".
func lookupContainer(st *storage.Store, name string) (*storage.Container, error) {
	return st.LookupContainer(name)
}

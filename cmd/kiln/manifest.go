package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newManifestCmd) }

// newManifestCmd is podman's manifest command: manifest lists (OCI image
// indexes) kept in the store next to the images they reference.
func newManifestCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Create, change, inspect and push manifest lists",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newManifestCreateCmd(g), newManifestAddCmd(g), newManifestAnnotateCmd(g),
		newManifestInspectCmd(g), newManifestPushCmd(g), newManifestRmCmd(g), newManifestRemoveCmd(g),
		newManifestExistsCmd(g))
	return cmd
}

// withStore opens the store for the length of f.
func withStore(cmd *cobra.Command, g *globals, f func(st *storage.Store) error) error {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

// printListID prints the id of the list a manifest command changed, as
// podman does.
func printListID(cmd *cobra.Command, st *storage.Store, name string) error {
	rec, err := st.Lookup(name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out(cmd), rec.ID)
	return err
}

func newManifestCreateCmd(g *globals) *cobra.Command {
	var (
		amend       bool
		annotations []string
	)
	cmd := &cobra.Command{
		Use:   "create [flags] LIST [IMAGE...]",
		Short: "Create a manifest list, optionally with images from the store",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ann, err := keyValues("--annotation", annotations)
			if err != nil {
				return err
			}
			return withStore(cmd, g, func(st *storage.Store) error {
				id, err := st.CreateList(args[0], storage.ManifestOptions{Amend: amend, Annotations: ann})
				if err != nil {
					return err
				}
				for _, img := range args[1:] {
					if _, err := st.ListAdd(cmd.Context(), id, img, storage.InstanceOptions{}); err != nil {
						return err
					}
				}
				_, err = fmt.Fprintln(out(cmd), id)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&amend, "amend", "a", false, "add to the list if one of that name exists")
	cmd.Flags().StringArrayVar(&annotations, "annotation", nil, "annotation KEY=VALUE for the index (repeatable)")
	return cmd
}

// instanceFlags are add's and annotate's platform and annotation flags.
type instanceFlags struct {
	opts        storage.InstanceOptions
	annotations []string
}

func (f *instanceFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&f.opts.OS, "os", "", "operating system the entry records")
	fl.StringVar(&f.opts.Architecture, "arch", "", "architecture the entry records")
	fl.StringVar(&f.opts.Variant, "variant", "", "architecture variant the entry records")
	fl.StringVar(&f.opts.OSVersion, "os-version", "", "operating system version the entry records")
	fl.StringSliceVar(&f.opts.OSFeatures, "os-features", nil, "operating system features the entry records")
	fl.StringArrayVar(&f.annotations, "annotation", nil, "annotation KEY=VALUE for the entry (repeatable)")
}

func (f *instanceFlags) options() (storage.InstanceOptions, error) {
	o := f.opts
	var err error
	o.Annotations, err = keyValues("--annotation", f.annotations)
	return o, err
}

func newManifestAddCmd(g *globals) *cobra.Command {
	var f instanceFlags
	cmd := &cobra.Command{
		Use:   "add [flags] LIST IMAGE",
		Short: "Add an image from the store to a manifest list",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			return withStore(cmd, g, func(st *storage.Store) error {
				if _, err := st.ListAdd(cmd.Context(), args[0], args[1], o); err != nil {
					return err
				}
				return printListID(cmd, st, args[0])
			})
		},
	}
	f.add(cmd.Flags())
	return cmd
}

func newManifestAnnotateCmd(g *globals) *cobra.Command {
	var f instanceFlags
	cmd := &cobra.Command{
		Use:   "annotate [flags] LIST IMAGE|DIGEST",
		Short: "Change the platform or annotations of a manifest list entry",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			return withStore(cmd, g, func(st *storage.Store) error {
				if err := st.ListAnnotate(cmd.Context(), args[0], args[1], o); err != nil {
					return err
				}
				return printListID(cmd, st, args[0])
			})
		},
	}
	f.add(cmd.Flags())
	return cmd
}

func newManifestInspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect LIST",
		Short: "Show a manifest list as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, g, func(st *storage.Store) error {
				raw, err := st.ListInspect(args[0])
				if err != nil {
					return err
				}
				return printRawJSON(out(cmd), raw)
			})
		},
	}
}

// printRawJSON prints stored JSON indented, as podman does.
func printRawJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "    "); err != nil {
		return fmt.Errorf("formatting manifest list: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func newManifestPushCmd(g *globals) *cobra.Command {
	var (
		sys        sysFlags
		opts       storage.ListPushOptions
		digestFile string
		quiet, rm  bool
	)
	cmd := &cobra.Command{
		Use:   "push [flags] LIST [DESTINATION]",
		Short: "Push a manifest list and the images it references",
		Long: "Push a manifest list from the store. DESTINATION is any transport reference; a name without " +
			"transport means docker://NAME, and none the list's own name.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.System, err = sys.options(); err != nil {
				return err
			}
			opts.Progress = cmd.ErrOrStderr()
			if quiet {
				opts.Progress = nil
			}
			return withStore(cmd, g, func(st *storage.Store) error {
				dest := args[0]
				if len(args) == 2 {
					dest = args[1]
				} else if rec, err := st.Lookup(args[0]); err == nil && len(rec.Names) > 0 {
					dest = rec.Names[0]
				}
				d, err := st.ListPush(cmd.Context(), args[0], dest, opts)
				if err != nil {
					return err
				}
				if digestFile != "" {
					if err := os.WriteFile(digestFile, []byte(d.String()), 0o644); err != nil {
						return fmt.Errorf("writing --digestfile: %w", err)
					}
				}
				if rm {
					if _, err := st.RemoveLists(args[:1]); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	sys.add(fl)
	fl.BoolVar(&opts.All, "all", true, "push the images the list references too")
	fl.StringVarP(&opts.Format, "format", "f", "", "manifest format of the images: oci or docker (default: keep)")
	fl.StringVar(&digestFile, "digestfile", "", "write the digest of the pushed list to this file")
	fl.BoolVar(&opts.RemoveSignatures, "remove-signatures", false, "do not copy signatures")
	fl.BoolVar(&rm, "rm", false, "remove the list from the store after pushing it")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print no progress")
	return cmd
}

func newManifestRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm LIST [LIST...]",
		Short: "Remove manifest lists from the store, keeping the images they reference",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, g, func(st *storage.Store) error {
				ids, err := st.RemoveLists(args)
				for i, id := range ids {
					fmt.Fprintf(out(cmd), "Untagged: %s\nDeleted: %s\n", args[i], id)
				}
				return err
			})
		},
	}
}

func newManifestRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove LIST IMAGE|DIGEST",
		Short: "Remove an entry from a manifest list",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, g, func(st *storage.Store) error {
				return st.ListRemove(args[0], args[1])
			})
		},
	}
}

func newManifestExistsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "exists LIST",
		Short: "Exit 0 if a manifest list of that name exists, 1 otherwise",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, g, func(st *storage.Store) error {
				if _, err := st.ListInspect(args[0]); err != nil {
					return &exitCodeError{code: 1, err: err}
				}
				return nil
			})
		},
	}
}

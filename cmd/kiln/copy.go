package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build"
	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/storage"
)

func init() {
	register(func(g *globals) *cobra.Command { return newCopyCmd(g, false) })
	register(func(g *globals) *cobra.Command { return newCopyCmd(g, true) })
}

type copyFlags struct {
	chown, chmod, from string
	add                bool
}

func newCopyCmd(g *globals, add bool) *cobra.Command {
	f := copyFlags{add: add}
	cmd := &cobra.Command{
		Use:   "copy [flags] CONTAINER SRC [SRC...] DEST",
		Short: "Copy files into a working container",
		Long: "Copy host files and directories into a working container with COPY's rules: owned by 0:0 unless " +
			"--chown, a relative DEST is relative to the container's working directory, several sources need a " +
			"DEST directory ending in /. --from copies from another container or an image instead of the host.",
		Args: cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd, g, &f, args[0], args[1:len(args)-1], args[len(args)-1])
		},
	}
	if add {
		cmd.Use = "add [flags] CONTAINER SRC [SRC...] DEST"
		cmd.Short = "Add files, archives or URLs to a working container"
		cmd.Long = "Like kiln copy, but local tar archives are unpacked and http(s) URLs downloaded, as ADD does."
	}
	fl := cmd.Flags()
	fl.StringVar(&f.chown, "chown", "", "owner USER[:GROUP] of the copies, names resolved in the container")
	fl.StringVar(&f.chmod, "chmod", "", "octal mode of the copies")
	fl.StringVar(&f.from, "from", "", "copy from this container or image instead of the host")
	return cmd
}

func runCopy(cmd *cobra.Command, g *globals, f *copyFlags, name string, sources []string, dest string) (err error) {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := lookupContainer(st, name)
	if err != nil {
		return err
	}
	opts := build.PutOptions{Workdir: c.Config.Config.WorkingDir, Chown: f.chown, Chmod: f.chmod, Add: f.add}
	if f.from != "" {
		srcRoot, release, err := mountSource(cmd, st, f.from)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, release()) }()
		if sources, err = inRoot(srcRoot, sources); err != nil {
			return err
		}
		opts.SourceRoot = srcRoot
	} else if f.add {
		tmp, err := os.MkdirTemp("", "kiln-add-")
		if err != nil {
			return fmt.Errorf("creating download directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		if sources, err = download(cmd, sources, tmp); err != nil {
			return err
		}
	}
	root, release, err := container.Mount(st, c)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, release()) }()
	if err := build.Put(root, sources, dest, opts); err != nil {
		return fmt.Errorf("copying into %s: %w", c.Name, err)
	}
	return nil
}

// mountSource mounts the root --from names: a container, else an image
// (through a throwaway container).
func mountSource(cmd *cobra.Command, st *storage.Store, from string) (string, func() error, error) {
	c, err := st.LookupContainer(from)
	if err == nil {
		return container.Mount(st, c)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	tmp, err := newContainer(cmd, st, &pullFlags{pull: "missing", quiet: true}, from, "", storage.KindWorking)
	if err != nil {
		return "", nil, fmt.Errorf("--from %s: %w", from, err)
	}
	root, release, err := container.Mount(st, tmp)
	if err != nil {
		return "", nil, errors.Join(err, st.DeleteContainer(tmp))
	}
	return root, func() error { return errors.Join(release(), st.DeleteContainer(tmp)) }, nil
}

// inRoot resolves source paths inside root, symlinks included.
func inRoot(root string, sources []string) ([]string, error) {
	out := make([]string, 0, len(sources))
	for _, s := range sources {
		p, err := securejoin.SecureJoin(root, path.Clean("/"+s))
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// download fetches the http(s) URLs among sources into dir and returns the
// sources with each URL replaced by its file.
func download(cmd *cobra.Command, sources []string, dir string) ([]string, error) {
	out := make([]string, 0, len(sources))
	for i, s := range sources {
		if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
			out = append(out, s)
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("parsing URL %s: %w", s, err)
		}
		name := path.Base(u.Path)
		if name == "/" || name == "." {
			name = "index.html"
		}
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, fmt.Errorf("downloading %s: %w", s, err)
		}
		p := filepath.Join(sub, name)
		if err := fetch(cmd, s, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func fetch(cmd *cobra.Command, u, p string) error {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: %s", u, resp.Status)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", u, err)
	}
	_, cerr := io.Copy(f, resp.Body)
	if err := errors.Join(cerr, f.Close()); err != nil {
		return fmt.Errorf("downloading %s: %w", u, err)
	}
	return nil
}

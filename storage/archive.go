package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/types"
)

// Archive formats for SaveOptions.Format.
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIArchive    = "oci-archive"
	FormatOCIDir        = "oci-dir"
)

// SaveOptions tune Save.
type SaveOptions struct {
	// Format is FormatDockerArchive (default), FormatOCIArchive or FormatOCIDir.
	Format string
	// Output is the file (or, for FormatOCIDir, directory) to write.
	Output string
	// Writer receives the archive instead when Output is "".
	Writer   io.Writer
	Progress io.Writer
}

// saved is one image to save and the names to save it under.
type saved struct {
	id    string
	names []reference.NamedTagged
}

// Save writes the images found by names into one archive. An image given by
// name keeps that name; one given by id keeps all its names. The archive is
// written to a temporary file first, so a failed save leaves nothing behind.
func (st *Store) Save(ctx context.Context, names []string, opts SaveOptions) error {
	if len(names) == 0 {
		return fmt.Errorf("saving: no image named: %w", fs.ErrInvalid)
	}
	var imgs []saved
	at := map[string]int{} // image id → index in imgs
	for _, n := range names {
		s, err := st.toSave(n)
		if err != nil {
			return err
		}
		// One entry per image: archive writers cannot take an image twice.
		if i, ok := at[s.id]; ok {
			imgs[i].names = appendNew(imgs[i].names, s.names...)
			continue
		}
		at[s.id] = len(imgs)
		imgs = append(imgs, s)
	}
	switch opts.Format {
	case "", FormatDockerArchive:
		return writeVia(opts, func(path string) error { return st.saveDocker(ctx, imgs, path, opts.Progress) })
	case FormatOCIArchive:
		return writeVia(opts, func(path string) error { return st.saveOCIArchive(ctx, imgs, path, opts.Progress) })
	case FormatOCIDir:
		if opts.Output == "" {
			return fmt.Errorf("saving as %s needs an output directory: %w", FormatOCIDir, fs.ErrInvalid)
		}
		return st.saveOCIDir(ctx, imgs, opts.Output, opts.Progress)
	}
	return fmt.Errorf("unknown archive format %q: want docker-archive, oci-archive or oci-dir: %w", opts.Format, fs.ErrInvalid)
}

func (st *Store) toSave(name string) (saved, error) {
	img, matched, err := st.resolve(name)
	if err != nil {
		return saved{}, err
	}
	s := saved{id: img.ID}
	names := img.Names
	if matched != "" {
		names = []string{matched}
	}
	for _, n := range names {
		if named, err := reference.ParseNormalizedNamed(n); err == nil {
			if nt, ok := named.(reference.NamedTagged); ok {
				s.names = append(s.names, nt)
			}
		}
	}
	return s, nil
}

func appendNew(names []reference.NamedTagged, more ...reference.NamedTagged) []reference.NamedTagged {
	for _, m := range more {
		if !slices.ContainsFunc(names, func(n reference.NamedTagged) bool { return n.String() == m.String() }) {
			names = append(names, m)
		}
	}
	return names
}

// writeVia runs write on a temporary file beside opts.Output (or in TMPDIR
// for opts.Writer) and moves or copies the result into place.
func writeVia(opts SaveOptions, write func(path string) error) (err error) {
	dir := os.TempDir()
	if opts.Output != "" {
		dir = filepath.Dir(opts.Output)
	}
	f, err := os.CreateTemp(dir, ".kiln-save-*.tar")
	if err != nil {
		return fmt.Errorf("creating temporary archive: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("removing temporary archive: %w", rerr)
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if opts.Output != "" {
		if err := os.Chmod(tmp, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", opts.Output, err)
		}
		if err := os.Rename(tmp, opts.Output); err != nil {
			return fmt.Errorf("writing %s: %w", opts.Output, err)
		}
		return nil
	}
	f, err = os.Open(tmp)
	if err != nil {
		return fmt.Errorf("reading temporary archive: %w", err)
	}
	defer f.Close()
	if _, err := io.Copy(opts.Writer, f); err != nil {
		return fmt.Errorf("writing archive: %w", err)
	}
	return nil
}

func (st *Store) saveDocker(ctx context.Context, imgs []saved, path string, progress io.Writer) (err error) {
	w, err := archive.NewWriter(nil, path)
	if err != nil {
		return fmt.Errorf("creating docker archive: %w", err)
	}
	defer func() {
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("finishing docker archive: %w", cerr)
		}
	}()
	for _, img := range imgs {
		var first reference.NamedTagged
		destSys := &types.SystemContext{}
		if len(img.names) > 0 {
			first, destSys.DockerArchiveAdditionalTags = img.names[0], img.names[1:]
		}
		dest, err := w.NewReference(first)
		if err != nil {
			return fmt.Errorf("adding image %s to docker archive: %w", shortID(img.id), err)
		}
		if err := st.copyOut(ctx, img.id, dest, destSys, progress); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) copyOut(ctx context.Context, id string, dest types.ImageReference, destSys *types.SystemContext, progress io.Writer) error {
	src, err := st.localRef(nil, id)
	if err != nil {
		return err
	}
	_, err = copyImage(ctx, src, dest, CopyOptions{Sys: &types.SystemContext{}, DestSys: destSys, Progress: progress})
	return err
}

// saveOCIDir writes the images into an OCI layout, each entry named by the
// image's full name (podman's convention), untagged images unnamed.
func (st *Store) saveOCIDir(ctx context.Context, imgs []saved, dir string, progress io.Writer) error {
	for _, img := range imgs {
		names := []string{""}
		if len(img.names) > 0 {
			names = names[:0]
			for _, n := range img.names {
				names = append(names, n.String())
			}
		}
		for _, n := range names {
			dest, err := ocilayout.NewReference(dir, n)
			if err != nil {
				return fmt.Errorf("referring to %s in OCI layout %s: %w", n, dir, err)
			}
			if err := st.copyOut(ctx, img.id, dest, &types.SystemContext{}, progress); err != nil {
				return err
			}
		}
	}
	return nil
}

// saveOCIArchive writes an OCI layout holding every image and tars it, since
// containers/image's oci-archive writer holds only one image.
func (st *Store) saveOCIArchive(ctx context.Context, imgs []saved, path string, progress io.Writer) error {
	dir, err := os.MkdirTemp("", "kiln-oci-")
	if err != nil {
		return fmt.Errorf("creating temporary OCI layout: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := st.saveOCIDir(ctx, imgs, dir, progress); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if err := tarDir(dir, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

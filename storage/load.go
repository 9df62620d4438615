package storage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.podman.io/image/v5/docker/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

// LoadOptions tune Load.
type LoadOptions struct {
	// Input is the archive file; Reader is read instead when Input is "".
	Input    string
	Reader   io.Reader
	Progress io.Writer
}

// Load stores every image of a docker-archive or oci-archive (told apart by
// their contents, compressed or not) and returns the names loaded:
// each image's tags, or "sha256:ID" for an untagged one.
func (st *Store) Load(ctx context.Context, opts LoadOptions) ([]string, error) {
	path, label := opts.Input, opts.Input
	if path == "" {
		label = "standard input"
		tmp, err := spool(opts.Reader)
		if err != nil {
			return nil, fmt.Errorf("reading archive from standard input: %w", err)
		}
		defer os.Remove(tmp)
		path = tmp
	}
	format, err := sniffArchive(path)
	if err != nil {
		return nil, fmt.Errorf("reading archive %s: %w", label, err)
	}
	var loaded []string
	if format == FormatDockerArchive {
		loaded, err = st.loadDocker(ctx, path, opts.Progress)
	} else {
		loaded, err = st.loadOCI(ctx, path, opts.Progress)
	}
	if err != nil {
		return loaded, fmt.Errorf("loading %s: %w", label, err)
	}
	return loaded, nil
}

// spool copies r into a new temporary file and returns its path; the
// archive readers need to seek.
func spool(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "kiln-spool-*")
	if err != nil {
		return "", fmt.Errorf("creating temporary file: %w", err)
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("copying to temporary file: %w", err)
	}
	return f.Name(), nil
}

// sniffArchive reads the whole archive, which also proves it is complete,
// and tells docker-archive (manifest.json) from oci-archive (index.json).
func sniffArchive(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return "", err
	}
	defer r.Close()
	tr := tar.NewReader(r)
	var docker, oci, any bool
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a complete tar archive: %w: %w", err, fs.ErrInvalid)
		}
		any = true
		switch filepath.Clean(h.Name) {
		case "manifest.json":
			docker = true
		case "index.json":
			oci = true
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return "", fmt.Errorf("not a complete tar archive: %w: %w", err, fs.ErrInvalid)
		}
	}
	switch {
	case docker:
		return FormatDockerArchive, nil
	case oci:
		return FormatOCIArchive, nil
	case !any:
		return "", fmt.Errorf("not a tar archive, or an empty one: %w", fs.ErrInvalid)
	}
	return "", fmt.Errorf("neither a docker-archive (no manifest.json) nor an oci-archive (no index.json): %w", fs.ErrInvalid)
}

func (st *Store) loadDocker(ctx context.Context, path string, progress io.Writer) ([]string, error) {
	sys := &types.SystemContext{}
	r, err := archive.NewReader(sys, path)
	if err != nil {
		return nil, fmt.Errorf("reading docker archive: %w", err)
	}
	defer r.Close()
	images, err := r.List()
	if err != nil {
		return nil, fmt.Errorf("listing docker archive: %w", err)
	}
	var loaded []string
	for _, refs := range images {
		named := refs[0].DockerReference()
		rec, err := st.copyIn(ctx, refs[0], named, CopyOptions{Sys: sys, Progress: progress})
		if err != nil {
			return loaded, err
		}
		if named == nil {
			loaded = append(loaded, "sha256:"+rec.ID)
			continue
		}
		var names []string
		for _, ref := range refs {
			names = append(names, ref.DockerReference().String())
		}
		if err := st.s.AddNames(rec.ID, names[1:]); err != nil {
			return loaded, fmt.Errorf("tagging image %s: %w", shortID(rec.ID), err)
		}
		loaded = append(loaded, names...)
	}
	return loaded, nil
}

func (st *Store) loadOCI(ctx context.Context, path string, progress io.Writer) ([]string, error) {
	dir, err := os.MkdirTemp("", "kiln-oci-")
	if err != nil {
		return nil, fmt.Errorf("creating temporary OCI layout: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := untar(path, dir); err != nil {
		return nil, err
	}
	entries, err := ocilayout.List(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI index: %w", err)
	}
	sys := &types.SystemContext{}
	var loaded []string
	for i, e := range entries {
		if err := verifyBlob(dir, e.ManifestDescriptor); err != nil {
			return loaded, err
		}
		named := nameOrNil(annotatedName(e.ManifestDescriptor))
		// By position: an entry's annotation need not be a valid name.
		ref, err := ocilayout.NewIndexReference(dir, i)
		if err != nil {
			return loaded, fmt.Errorf("referring to OCI index entry %d: %w", i, err)
		}
		rec, err := st.copyIn(ctx, ref, named, CopyOptions{Sys: sys, Progress: progress})
		if err != nil {
			return loaded, err
		}
		if named == nil {
			loaded = append(loaded, "sha256:"+rec.ID)
		} else {
			loaded = append(loaded, named.String())
		}
	}
	return loaded, nil
}

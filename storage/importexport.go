package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// ImportOptions describe a one-layer image made from a root filesystem tar.
type ImportOptions struct {
	// Source is the tarball: plain, gzip, zstd, xz or bzip2.
	Source io.Reader
	// Name is the image name; "" leaves the image untagged.
	Name string
	// Config holds the platform and the runtime config (after --change);
	// its RootFS, Created and History are filled in by Import.
	Config *Image
	// Message is the history entry's comment.
	Message string
	// Created is the image's creation time; zero means now.
	Created time.Time
}

// Import stores a root filesystem tarball as the single layer of a new image
// and returns the image. Nothing is left behind if it fails.
func (st *Store) Import(ctx context.Context, opts ImportOptions) (*ImageRecord, error) {
	if opts.Config == nil {
		return nil, fmt.Errorf("importing without a config: %w", fs.ErrInvalid)
	}
	if opts.Name != "" {
		if _, err := NormalizeName(opts.Name); err != nil {
			return nil, err
		}
	}
	rc, _, err := compression.AutoDecompress(opts.Source)
	if err != nil {
		return nil, fmt.Errorf("reading tarball: %w", err)
	}
	defer rc.Close()
	layer, err := st.PutLayer(ctx, "", rc)
	if err != nil {
		return nil, fmt.Errorf("reading tarball: %w", oneLine{err})
	}
	rec, err := st.commitImport(ctx, layer, opts)
	if err != nil {
		return nil, errors.Join(err, st.deleteLayer(layer.ID))
	}
	if rec.TopLayer != layer.ID {
		// The store reused an identical layer it already had.
		if err := st.deleteLayer(layer.ID); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

func (st *Store) commitImport(ctx context.Context, layer *Layer, opts ImportOptions) (*ImageRecord, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg := opts.Config.Clone()
	cfg.Created = &created
	cfg.History = append(cfg.History, History{
		Created:   &created,
		CreatedBy: "/bin/sh -c #(nop) ADD file:" + layer.DiffID.Encoded() + " in / ",
		Comment:   opts.Message,
	})
	copts := CommitOptions{Config: cfg, TopLayer: layer.ID, Format: FormatOCI, Dest: opts.Name}
	if opts.Name != "" {
		res, err := st.Commit(ctx, copts)
		if err != nil {
			return nil, err
		}
		return st.Lookup(res.ID)
	}
	return st.commitUntagged(ctx, copts)
}

// commitUntagged is Commit for an image with no name: it is stored under
// its config digest.
func (st *Store) commitUntagged(ctx context.Context, opts CommitOptions) (*ImageRecord, error) {
	src, err := st.newBuiltSource(opts)
	if err != nil {
		return nil, err
	}
	id := src.configDigest.Encoded()
	dest, err := st.localRef(nil, id)
	if err != nil {
		return nil, err
	}
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return nil, fmt.Errorf("creating commit policy: %w", err)
	}
	defer pc.Destroy()
	if _, err := copyWithPolicy(ctx, pc, &builtRef{src: src}, dest, CopyOptions{Sys: &types.SystemContext{}}); err != nil {
		return nil, fmt.Errorf("committing untagged image: %w", err)
	}
	return st.Lookup(id)
}

// Export writes the flattened filesystem of the image found by name to w as
// an uncompressed tar, merged from its layers (see flatten.go): nothing is
// mounted, and owners and modes are the layers' own on every driver.
func (st *Store) Export(ctx context.Context, name string, w io.Writer) error {
	rec, err := st.Lookup(name)
	if err != nil {
		return err
	}
	layers, err := st.LayerChain(rec.TopLayer)
	if err != nil {
		return err
	}
	if err := st.flatten(ctx, layers, w); err != nil {
		return fmt.Errorf("exporting image %s: %w", shortID(rec.ID), err)
	}
	return nil
}

// oneLine shows a multi-line error (such as a layer unpacker's output) on
// one line, keeping it for errors.Is.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	return strings.Join(strings.Fields(strings.ReplaceAll(e.err.Error(), "\n", "; ")), " ")
}

func (e oneLine) Unwrap() error { return e.err }

package container

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kiln-build/kiln/overlay"
	"github.com/kiln-build/kiln/storage"
)

// CommitOptions describe the image Commit writes.
type CommitOptions struct {
	// Dest is a name in the store or any transport reference; "" leaves
	// the image untagged.
	Dest string
	// Format is storage.FormatOCI (default) or storage.FormatDocker.
	Format string
	// Squash makes the image one layer holding its whole filesystem.
	Squash bool
	// Timestamp, when set, is the image's creation time and clamps the
	// file times of the new layer, for reproducible images.
	Timestamp *time.Time
	// Edit changes the image's config (commit --change) before it is
	// written.
	Edit func(*storage.Image) error
	// Commit carries the registry settings and progress output.
	Commit storage.CommitOptions
}

// Commit writes c as an image: its base image's layers, a new layer with
// what changed in the container (none when nothing did) and its config.
func Commit(ctx context.Context, st *storage.Store, c *storage.Container, o CommitOptions) (*storage.CommitResult, error) {
	created := time.Now().UTC()
	if o.Timestamp != nil {
		created = o.Timestamp.UTC()
	}
	img := c.Config.Clone()
	if o.Edit != nil {
		if err := o.Edit(img); err != nil {
			return nil, err
		}
	}
	layer, err := changes(ctx, st, c, o.Timestamp)
	if err != nil {
		return nil, err
	}
	var made []string // layers made here, to drop if the image does not keep them
	top := c.BaseLayer
	if layer != "" {
		top = layer
		made = append(made, layer)
	}
	img.Created = &created
	img.History = append(img.History, storage.History{Created: &created, CreatedBy: "kiln commit", EmptyLayer: layer == ""})
	if o.Squash && top != "" {
		sq, err := st.Squash(ctx, top)
		if err != nil {
			return nil, errors.Join(err, dropLayers(st, made, ""))
		}
		top = sq.ID
		made = append([]string{sq.ID}, made...)
		for i := range img.History {
			img.History[i].EmptyLayer = true
		}
		img.History[len(img.History)-1].EmptyLayer = false
	}
	opts := o.Commit
	opts.Config, opts.TopLayer, opts.Format, opts.Dest = img, top, o.Format, o.Dest
	res, err := st.Commit(ctx, opts)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("committing container %s: %w", c.Name, err), dropLayers(st, made, ""))
	}
	keep := ""
	if res.ID != "" {
		if rec, err := st.Lookup(res.ID); err == nil {
			keep = rec.TopLayer
		}
	}
	// A failure to drop an unused layer leaves it for kiln prune; the
	// image is written either way.
	_ = dropLayers(st, made, keep)
	return res, nil
}

// dropLayers deletes the layers in made (newest last) that are not in the
// chain of keep: an identical image already in the store, a remote
// destination or a squash leaves them unused.
func dropLayers(st *storage.Store, made []string, keep string) error {
	var used []string
	if keep != "" {
		chain, err := st.LayerChain(keep)
		if err != nil {
			return err
		}
		for _, l := range chain {
			used = append(used, l.ID)
		}
	}
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if !slices.Contains(used, made[i]) {
			errs = append(errs, st.DeleteLayer(made[i]))
		}
	}
	return errors.Join(errs...)
}

// changes stores what changed in c as a layer on its base and returns its
// id, "" when nothing changed. An upper directory in kernel overlay's format
// is read directly, in pure Go, clamping file times to ts; other drivers
// compute the diff through the store.
func changes(ctx context.Context, st *storage.Store, c *storage.Container, ts *time.Time) (string, error) {
	d, err := st.OverlayDirs(c)
	if errors.Is(err, errors.ErrUnsupported) {
		rc, err := st.ContainerDiff(c)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		l, err := st.PutLayer(ctx, c.BaseLayer, rc)
		if err != nil {
			return "", fmt.Errorf("storing changes of container %s: %w", c.Name, err)
		}
		return l.ID, nil
	}
	if err != nil {
		return "", err
	}
	if empty, err := overlay.Empty(d.Upper); err != nil || empty {
		return "", err
	}
	// The container keeps its upper directory, so the layer is unpacked
	// from the tar rather than moved in as a build step's is.
	pr := overlay.Stream(ctx, d.Upper, overlay.DiffOptions{SourceDateEpoch: ts, NoDigest: true})
	l, err := st.PutLayer(ctx, c.BaseLayer, pr)
	pr.CloseWithError(errors.New("layer store stopped reading"))
	if err != nil {
		return "", fmt.Errorf("storing changes of container %s: %w", c.Name, err)
	}
	return l.ID, nil
}

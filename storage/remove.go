package storage

import (
	"errors"
	"fmt"
	"strings"

	cstorage "go.podman.io/storage"
)

// ErrInUse marks an image that cannot be removed without force: a container
// uses it, other images are built on it, or it has several names and was
// given by id.
var ErrInUse = errors.New("image is in use")

// RemoveReport tells what Remove or Prune did, in order.
type RemoveReport struct {
	// Untagged are the names removed, in full.
	Untagged []string
	// Deleted are the ids of the images deleted.
	Deleted []string
	// Reclaimed is the number of bytes of layers and metadata freed.
	Reclaimed int64
}

func (r *RemoveReport) add(o *RemoveReport) {
	r.Untagged = append(r.Untagged, o.Untagged...)
	r.Deleted = append(r.Deleted, o.Deleted...)
	r.Reclaimed += o.Reclaimed
}

// Remove removes images named by name, id or id prefix with docker's rmi
// semantics: removing one name of an image with several only untags it; an
// image in use by a container, with child images or given by id while it
// has several names is refused unless force. Force also deletes the
// containers using the image. Untagged parents left with no other child
// are deleted too. Every name is tried; the errors are joined.
func (st *Store) Remove(names []string, force bool) (*RemoveReport, error) {
	rep := &RemoveReport{}
	var errs []error
	for _, name := range names {
		r, err := st.removeOne(name, force)
		rep.add(r)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

func (st *Store) removeOne(name string, force bool) (*RemoveReport, error) {
	rep := &RemoveReport{}
	img, matched, err := st.resolve(name)
	if err != nil {
		return rep, err
	}
	if matched != "" && len(img.Names) > 1 {
		if err := st.s.RemoveNames(img.ID, []string{matched}); err != nil {
			return rep, fmt.Errorf("untagging %s: %w", matched, err)
		}
		rep.Untagged = append(rep.Untagged, matched)
		return rep, nil
	}
	inv, err := st.inventory()
	if err != nil {
		return rep, err
	}
	if !force {
		if err := inv.checkRemovable(img, matched == ""); err != nil {
			return rep, err
		}
	}
	for _, c := range inv.used[img.ID] {
		if err := st.s.DeleteContainer(c); err != nil {
			return rep, fmt.Errorf("deleting container %s using image %s: %w", c, shortID(img.ID), err)
		}
	}
	parent := inv.parent[img.ID]
	r, err := st.deleteImage(inv, img)
	rep.add(r)
	if err != nil {
		return rep, err
	}
	return rep, st.deleteUnusedParents(parent, rep)
}

// checkRemovable refuses what docker refuses without -f.
func (inv *inventory) checkRemovable(img *cstorage.Image, byID bool) error {
	id := shortID(img.ID)
	if ctrs := inv.used[img.ID]; len(ctrs) > 0 {
		return fmt.Errorf("image %s is used by container %s (remove it or use -f): %w", id, shortID(ctrs[0]), ErrInUse)
	}
	if kids := inv.children[img.ID]; len(kids) > 0 {
		return fmt.Errorf("image %s has dependent child images such as %s (use -f): %w", id, shortID(kids[0]), ErrInUse)
	}
	if byID && len(img.Names) > 1 {
		return fmt.Errorf("image %s given by id has several names (%s) (use -f or remove a name): %w",
			id, strings.Join(img.Names, ", "), ErrInUse)
	}
	return nil
}

// deleteUnusedParents deletes untagged ancestors that nothing else uses.
func (st *Store) deleteUnusedParents(id string, rep *RemoveReport) error {
	for id != "" {
		inv, err := st.inventory()
		if err != nil {
			return err
		}
		img, ok := inv.byID[id]
		if !ok || len(img.Names) > 0 || len(inv.children[id]) > 0 || len(inv.used[id]) > 0 || img.ReadOnly {
			return nil
		}
		id = inv.parent[img.ID]
		r, err := st.deleteImage(inv, img)
		rep.add(r)
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteImage untags and deletes img and the layers only it used, and counts
// the bytes freed.
func (st *Store) deleteImage(inv *inventory, img *cstorage.Image) (*RemoveReport, error) {
	rep := &RemoveReport{Untagged: append([]string(nil), img.Names...)}
	if img.ReadOnly {
		return &RemoveReport{}, fmt.Errorf("image %s is in a read-only additional store: %w", shortID(img.ID), errors.ErrUnsupported)
	}
	var meta int64
	for _, n := range img.BigDataSizes {
		meta += n
	}
	layers, err := st.s.DeleteImage(img.ID, true)
	if err != nil {
		return &RemoveReport{}, fmt.Errorf("deleting image %s: %w", shortID(img.ID), err)
	}
	rep.Deleted = []string{img.ID}
	rep.Reclaimed = meta
	for _, l := range layers {
		if layer, ok := inv.layers[l]; ok {
			rep.Reclaimed += layer.UncompressedSize
		}
	}
	return rep, nil
}

// shortID is the 12-character form of an id that docker prints.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

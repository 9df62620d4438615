package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// A manifest list lives in the store as podman and buildah keep one: an
// image without layers whose "manifest" is the list, next to the images it
// references. instancesKey maps each entry's digest to its image id.
const instancesKey = "instances.json"

// list is a manifest list read from the store.
type list struct {
	id        string
	index     v1.Index
	instances map[digest.Digest]string
}

// loadList reads the list stored as image id; nil when that image is not a
// list.
func (st *Store) loadList(id string) (*list, error) {
	man, err := st.s.ImageBigData(id, cstorage.ImageDigestBigDataKey)
	if err != nil || !manifest.MIMETypeIsMultiImage(manifest.GuessMIMEType(man)) {
		return nil, nil
	}
	l := &list{id: id, instances: map[digest.Digest]string{}}
	if err := decodeIndex(man, &l.index); err != nil {
		return nil, fmt.Errorf("reading manifest list %s: %w", shortID(id), err)
	}
	if b, err := st.s.ImageBigData(id, instancesKey); err == nil {
		if err := json.Unmarshal(b, &l.instances); err != nil {
			return nil, fmt.Errorf("reading instances of manifest list %s: %w", shortID(id), err)
		}
	}
	return l, nil
}

// decodeIndex reads an OCI index or a Docker manifest list as an OCI index.
func decodeIndex(man []byte, idx *v1.Index) error {
	ml, err := manifest.ListFromBlob(man, manifest.GuessMIMEType(man))
	if err != nil {
		return err
	}
	oci, err := manifest.ConvertListToMIMEType(ml, v1.MediaTypeImageIndex)
	if err != nil {
		return err
	}
	b, err := oci.Serialize()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, idx)
}

// serialize encodes the list: an OCI index, or a Docker manifest list when
// every entry is a Docker manifest, as podman writes them.
func (l *list) serialize() ([]byte, error) {
	l.index.SchemaVersion, l.index.MediaType = 2, v1.MediaTypeImageIndex
	if l.index.Manifests == nil {
		l.index.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(l.index)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest list: %w", err)
	}
	docker := len(l.index.Manifests) > 0 && len(l.index.Annotations) == 0
	for _, m := range l.index.Manifests {
		docker = docker && m.MediaType == manifest.DockerV2Schema2MediaType && len(m.Annotations) == 0
	}
	if !docker {
		return b, nil
	}
	ml, err := manifest.ListFromBlob(b, v1.MediaTypeImageIndex)
	if err == nil {
		ml, err = manifest.ConvertListToMIMEType(ml, manifest.DockerV2ListMediaType)
	}
	if err == nil {
		b, err = ml.Serialize()
	}
	if err != nil {
		return nil, fmt.Errorf("encoding docker manifest list: %w", err)
	}
	return b, nil
}

// save writes the list back to its image.
func (st *Store) saveList(l *list) error {
	b, err := l.serialize()
	if err != nil {
		return err
	}
	inst, err := json.Marshal(l.instances)
	if err != nil {
		return fmt.Errorf("encoding instances of manifest list: %w", err)
	}
	if err := st.s.SetImageBigData(l.id, instancesKey, inst, nil); err != nil {
		return fmt.Errorf("writing manifest list %s: %w", shortID(l.id), err)
	}
	if err := st.s.SetImageBigData(l.id, cstorage.ImageDigestBigDataKey, b, manifest.Digest); err != nil {
		return fmt.Errorf("writing manifest list %s: %w", shortID(l.id), err)
	}
	return nil
}

// ListOptions tune the creation of a manifest list.
type ManifestOptions struct {
	// Amend adds to an existing list of that name instead of failing.
	Amend bool
	// Annotations go into the index itself.
	Annotations map[string]string
}

// CreateList makes an empty manifest list named name and returns its id.
func (st *Store) CreateList(name string, opts ManifestOptions) (string, error) {
	named, err := NormalizeName(name)
	if err != nil {
		return "", err
	}
	if img, err := st.s.Image(named.String()); err == nil {
		if l, _ := st.loadList(img.ID); l != nil && opts.Amend {
			return img.ID, nil
		}
		return "", fmt.Errorf("creating manifest list %s: the name is in use by image %s (use --amend for a list): %w",
			named, shortID(img.ID), fs.ErrExist)
	}
	img, err := st.s.CreateImage("", []string{named.String()}, "", "", &cstorage.ImageOptions{})
	if err != nil {
		return "", fmt.Errorf("creating manifest list %s: %w", named, err)
	}
	l := &list{id: img.ID, instances: map[digest.Digest]string{}}
	l.index.Versioned = imgspec.Versioned{SchemaVersion: 2}
	l.index.Annotations = opts.Annotations
	if err := st.saveList(l); err != nil {
		_, _ = st.s.DeleteImage(img.ID, true)
		return "", err
	}
	return img.ID, nil
}

// lookupList finds the list named name.
func (st *Store) lookupList(name string) (*list, error) {
	rec, err := st.Lookup(name)
	if err != nil {
		return nil, err
	}
	l, err := st.loadList(rec.ID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		return nil, fmt.Errorf("image %s is not a manifest list: %w", name, fs.ErrInvalid)
	}
	return l, nil
}

// InstanceOptions describe an entry of a manifest list; empty fields are
// taken from the image.
type InstanceOptions struct {
	OS, Architecture, Variant, OSVersion string
	OSFeatures                           []string
	Annotations                          map[string]string
}

// ListAdd adds the stored image name to the list, replacing an entry for the
// same platform, and returns the entry's digest.
func (st *Store) ListAdd(ctx context.Context, listName, name string, opts InstanceOptions) (digest.Digest, error) {
	l, err := st.lookupList(listName)
	if err != nil {
		return "", err
	}
	rec, err := st.Lookup(name)
	if err != nil {
		return "", err
	}
	if sub, _ := st.loadList(rec.ID); sub != nil {
		return "", fmt.Errorf("adding %s to %s: it is a manifest list itself: %w", name, listName, errors.ErrUnsupported)
	}
	cfg, man, err := st.storedConfig(ctx, rec)
	if err != nil {
		return "", err
	}
	d := digest.FromBytes(man)
	plat := &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
	desc := v1.Descriptor{MediaType: manifest.GuessMIMEType(man), Digest: d, Size: int64(len(man)), Platform: plat}
	kept := l.index.Manifests[:0]
	for _, m := range l.index.Manifests {
		if m.Digest != d && descPlatform(m) != descPlatform(desc) {
			kept = append(kept, m)
		} else if m.Digest != d {
			delete(l.instances, m.Digest)
		}
	}
	l.index.Manifests = append(kept, desc)
	l.instances[d] = rec.ID
	if err := annotate(&l.index.Manifests[len(l.index.Manifests)-1], opts); err != nil {
		return "", err
	}
	return d, st.saveList(l)
}

// annotate applies opts to an entry.
func annotate(m *v1.Descriptor, opts InstanceOptions) error {
	if m.Platform == nil {
		m.Platform = &v1.Platform{}
	}
	p := m.Platform
	for _, f := range []struct {
		dst *string
		v   string
	}{{&p.OS, opts.OS}, {&p.Architecture, opts.Architecture},
		{&p.Variant, opts.Variant}, {&p.OSVersion, opts.OSVersion}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if opts.OSFeatures != nil {
		p.OSFeatures = opts.OSFeatures
	}
	if len(opts.Annotations) > 0 {
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		maps.Copy(m.Annotations, opts.Annotations)
	}
	return nil
}

// ListAnnotate changes the entry of the list for the image or digest ref.
func (st *Store) ListAnnotate(ctx context.Context, listName, ref string, opts InstanceOptions) error {
	l, err := st.lookupList(listName)
	if err != nil {
		return err
	}
	i, err := st.entryIndex(l, ref)
	if err != nil {
		return err
	}
	if err := annotate(&l.index.Manifests[i], opts); err != nil {
		return err
	}
	return st.saveList(l)
}

// ListRemove drops the entry for the image or digest ref from the list.
func (st *Store) ListRemove(listName, ref string) error {
	l, err := st.lookupList(listName)
	if err != nil {
		return err
	}
	i, err := st.entryIndex(l, ref)
	if err != nil {
		return err
	}
	delete(l.instances, l.index.Manifests[i].Digest)
	l.index.Manifests = append(l.index.Manifests[:i], l.index.Manifests[i+1:]...)
	return st.saveList(l)
}

// entryIndex finds a list entry by manifest digest or by a stored image's
// name.
func (st *Store) entryIndex(l *list, ref string) (int, error) {
	want, err := digest.Parse(ref)
	if err != nil {
		rec, lerr := st.Lookup(ref)
		if lerr != nil {
			return 0, lerr
		}
		want = rec.Digest
		for d, id := range l.instances {
			if id == rec.ID {
				want = d
			}
		}
	}
	for i, m := range l.index.Manifests {
		if m.Digest == want {
			return i, nil
		}
	}
	return 0, &NotFoundError{What: "manifest list entry", Name: ref}
}

// ListInspect returns the list's manifest as stored.
func (st *Store) ListInspect(name string) ([]byte, error) {
	l, err := st.lookupList(name)
	if err != nil {
		return nil, err
	}
	return st.s.ImageBigData(l.id, cstorage.ImageDigestBigDataKey)
}

// IsList reports whether the stored image id is a manifest list.
func (st *Store) IsList(id string) bool {
	l, _ := st.loadList(id)
	return l != nil
}

// RemoveLists deletes manifest lists, not the images they reference.
func (st *Store) RemoveLists(names []string) ([]string, error) {
	var removed []string
	for _, n := range names {
		l, err := st.lookupList(n)
		if err != nil {
			return removed, err
		}
		if _, err := st.s.DeleteImage(l.id, true); err != nil {
			return removed, fmt.Errorf("removing manifest list %s: %w", n, err)
		}
		removed = append(removed, l.id)
	}
	return removed, nil
}

// listedImages are the ids of the images some stored manifest list
// references; pruning dangling images keeps them, since a multi-platform
// build leaves its images untagged.
func (st *Store) listedImages(inv *inventory) map[string]bool {
	out := map[string]bool{}
	for i := range inv.images {
		img := &inv.images[i]
		if img.TopLayer != "" {
			continue // lists have no layers
		}
		if l, _ := st.loadList(img.ID); l != nil {
			for _, m := range l.index.Manifests {
				if inst, err := st.instanceImage(l, m.Digest); err == nil {
					out[inst.ID] = true
				}
			}
		}
	}
	return out
}

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// ImageSummary is one stored image as kiln images and kiln inspect show it.
type ImageSummary struct {
	ID      string
	Names   []string
	Digest  digest.Digest
	Digests []digest.Digest
	Created time.Time
	// Size is the uncompressed size of all the image's layers plus its
	// metadata, as podman counts it (shared layers count for each image).
	Size int64
	// Parent is the id of the nearest local image this one was built on.
	Parent string
	// Containers counts the containers (of podman, buildah) using the image.
	Containers int
	// Children counts the local images built on this one.
	Children int
	// Labels are the config's labels; nil when the config can't be read.
	Labels   map[string]string
	ReadOnly bool
	TopLayer string
	// Platform is the config's "os/arch[/variant]", or "manifest list".
	Platform string
}

// Dangling reports an untagged image no other image is built on.
func (s *ImageSummary) Dangling() bool { return len(s.Names) == 0 && s.Children == 0 }

// Intermediate reports an untagged image other images are built on; kiln
// images hides those unless -a.
func (s *ImageSummary) Intermediate() bool { return len(s.Names) == 0 && s.Children > 0 }

// inventory is a snapshot of the store's images, layers and containers with
// the parent relation between images worked out.
type inventory struct {
	images   []cstorage.Image
	byID     map[string]*cstorage.Image
	layers   map[string]*cstorage.Layer
	used     map[string][]string // image id → ids of containers using it
	parent   map[string]string   // image id → parent image id
	children map[string][]string // image id → child image ids
}

func (st *Store) inventory() (*inventory, error) {
	images, err := st.s.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	layers, err := st.s.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	ctrs, err := st.s.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	inv := &inventory{images: images, byID: map[string]*cstorage.Image{}, layers: map[string]*cstorage.Layer{},
		used: map[string][]string{}, parent: map[string]string{}, children: map[string][]string{}}
	for i := range layers {
		inv.layers[layers[i].ID] = &layers[i]
	}
	for _, c := range ctrs {
		inv.used[c.ImageID] = append(inv.used[c.ImageID], c.ID)
	}
	byTop := map[string][]string{}
	for i := range images {
		img := &images[i]
		inv.byID[img.ID] = img
		if img.TopLayer != "" {
			byTop[img.TopLayer] = append(byTop[img.TopLayer], img.ID)
		}
	}
	for _, img := range images {
		if p := inv.nearestAncestor(img, byTop); p != "" {
			inv.parent[img.ID] = p
			inv.children[p] = append(inv.children[p], img.ID)
		}
	}
	return inv, nil
}

// nearestAncestor finds the image whose top layer is the closest proper
// ancestor of img's top layer. Images sharing a top layer are siblings.
func (inv *inventory) nearestAncestor(img cstorage.Image, byTop map[string][]string) string {
	top, ok := inv.layers[img.TopLayer]
	if !ok {
		return ""
	}
	for id := top.Parent; id != ""; {
		if cands := byTop[id]; len(cands) > 0 {
			return oldest(inv, cands)
		}
		l, ok := inv.layers[id]
		if !ok {
			return ""
		}
		id = l.Parent
	}
	return ""
}

func oldest(inv *inventory, ids []string) string {
	best := ids[0]
	for _, id := range ids[1:] {
		if inv.byID[id].Created.Before(inv.byID[best].Created) {
			best = id
		}
	}
	return best
}

// layerChain lists the layer ids from top down to the base.
func (inv *inventory) layerChain(top string) []string {
	var out []string
	for id := top; id != ""; {
		out = append(out, id)
		l, ok := inv.layers[id]
		if !ok {
			break
		}
		id = l.Parent
	}
	return out
}

func (st *Store) summary(ctx context.Context, inv *inventory, img *cstorage.Image) *ImageSummary {
	s := &ImageSummary{
		ID: img.ID, Names: slices.Clone(img.Names), Digest: img.Digest, Digests: slices.Clone(img.Digests),
		Created: img.Created, Parent: inv.parent[img.ID], Containers: len(inv.used[img.ID]),
		Children: len(inv.children[img.ID]), ReadOnly: img.ReadOnly, TopLayer: img.TopLayer,
	}
	for _, l := range inv.layerChain(img.TopLayer) {
		if layer, ok := inv.layers[l]; ok {
			s.Size += layer.UncompressedSize
		}
	}
	for _, n := range img.BigDataSizes {
		s.Size += n
	}
	if cfg, _, err := st.storedConfig(ctx, record(img)); err == nil {
		s.Labels = cfg.Config.Labels
		s.Platform = Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}.String()
	} else if st.IsList(img.ID) {
		s.Platform = "manifest list"
		if s.Created.IsZero() && cfg.Created != nil {
			s.Created = *cfg.Created
		}
	}
	return s
}

// ListOptions select the images kiln images shows.
type ListOptions struct {
	// All includes intermediate images.
	All bool
	// Filters are podman's --filter arguments.
	Filters []string
}

// Images lists the stored images, newest first.
func (st *Store) Images(ctx context.Context, opts ListOptions) ([]*ImageSummary, error) {
	inv, err := st.inventory()
	if err != nil {
		return nil, err
	}
	filter, err := st.parseFilters(opts.Filters, imageFilterKeys)
	if err != nil {
		return nil, err
	}
	var out []*ImageSummary
	for i := range inv.images {
		s := st.summary(ctx, inv, &inv.images[i])
		if !opts.All && s.Intermediate() {
			continue
		}
		if filter.match(s) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Summary describes one image found by name or id.
func (st *Store) Summary(ctx context.Context, name string) (*ImageSummary, error) {
	rec, err := st.Lookup(name)
	if err != nil {
		return nil, err
	}
	inv, err := st.inventory()
	if err != nil {
		return nil, err
	}
	img, ok := inv.byID[rec.ID]
	if !ok {
		return nil, fmt.Errorf("image %q vanished from the store: %w", name, fs.ErrNotExist)
	}
	return st.summary(ctx, inv, img), nil
}

// Tag adds names to the image found by name. A name held by another image
// moves to this one, as with docker tag.
func (st *Store) Tag(name string, newNames ...string) error {
	rec, err := st.Lookup(name)
	if err != nil {
		return err
	}
	var add []string
	for _, n := range newNames {
		named, err := NormalizeName(n)
		if err != nil {
			return err
		}
		if strings.Contains(named.String(), "@") {
			return fmt.Errorf("tagging %s as %q: a tag cannot hold a digest: %w", name, n, fs.ErrInvalid)
		}
		add = append(add, named.String())
	}
	if err := st.s.AddNames(rec.ID, add); err != nil {
		return fmt.Errorf("tagging image %s: %w", rec.ID, err)
	}
	return nil
}

// Untag removes names from the images holding them.
func (st *Store) Untag(names ...string) error {
	for _, n := range names {
		img, matched, err := st.resolve(n)
		if err != nil {
			return err
		}
		if matched == "" {
			return fmt.Errorf("untagging %q: an image id is not a tag: %w", n, fs.ErrInvalid)
		}
		if err := st.s.RemoveNames(img.ID, []string{matched}); err != nil {
			return fmt.Errorf("untagging %s: %w", matched, err)
		}
	}
	return nil
}

// resolve finds an image like Lookup and also says which of its names the
// user meant ("" when name was an id or id prefix).
func (st *Store) resolve(name string) (*cstorage.Image, string, error) {
	if name == "" {
		return nil, "", fmt.Errorf("empty image name: %w", fs.ErrInvalid)
	}
	for _, cand := range st.candidates(name) {
		img, err := st.s.Image(cand)
		if errors.Is(err, cstorage.ErrImageUnknown) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("looking up image %q: %w", name, err)
		}
		if slices.Contains(img.Names, cand) {
			return img, cand, nil
		}
		return img, "", nil
	}
	return nil, "", &NotFoundError{What: "image", Name: name}
}

// storedConfig reads an image's config and manifest straight from the
// store's metadata, without containers/image's platform checks and their
// log lines; images whose config isn't kept that way (docker schema 1) go
// through Config.
func (st *Store) storedConfig(ctx context.Context, rec *ImageRecord) (*Image, []byte, error) {
	man, err := st.s.ImageBigData(rec.ID, cstorage.ImageDigestBigDataKey)
	if err == nil && !manifest.MIMETypeIsMultiImage(manifest.GuessMIMEType(man)) {
		if m, err := manifest.FromBlob(man, manifest.GuessMIMEType(man)); err == nil && m.ConfigInfo().Digest != "" {
			if blob, err := st.s.ImageBigData(rec.ID, m.ConfigInfo().Digest.String()); err == nil {
				var cfg Image
				if err := json.Unmarshal(blob, &cfg); err != nil {
					return nil, nil, fmt.Errorf("parsing config of %s: %w", shortID(rec.ID), err)
				}
				return &cfg, man, nil
			}
		}
	}
	return st.Config(ctx, rec)
}

package storage

import (
	"context"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
)

// Inspection is what kiln inspect prints for an image. Field names and JSON
// keys are podman's, so scripts written for podman image inspect work.
type Inspection struct {
	ID           string            `json:"Id"`
	Digest       digest.Digest     `json:"Digest"`
	RepoTags     []string          `json:"RepoTags"`
	RepoDigests  []string          `json:"RepoDigests"`
	Parent       string            `json:"Parent"`
	Comment      string            `json:"Comment"`
	Created      *time.Time        `json:"Created,omitempty"`
	Config       Config            `json:"Config"`
	Version      string            `json:"Version"`
	Author       string            `json:"Author"`
	Architecture string            `json:"Architecture"`
	Variant      string            `json:"Variant,omitempty"`
	Os           string            `json:"Os"`
	Size         int64             `json:"Size"`
	VirtualSize  int64             `json:"VirtualSize"`
	GraphDriver  GraphDriver       `json:"GraphDriver"`
	RootFS       InspectRootFS     `json:"RootFS"`
	Labels       map[string]string `json:"Labels"`
	Annotations  map[string]string `json:"Annotations"`
	ManifestType string            `json:"ManifestType"`
	User         string            `json:"User"`
	History      []History         `json:"History"`
	NamesHistory []string          `json:"NamesHistory"`
}

// GraphDriver names the storage driver and its directories for the image's
// top layer.
type GraphDriver struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// InspectRootFS lists the image's layer diff ids.
type InspectRootFS struct {
	Type   string          `json:"Type"`
	Layers []digest.Digest `json:"Layers"`
}

// Inspect describes the image found by name.
func (st *Store) Inspect(ctx context.Context, name string) (*Inspection, error) {
	sum, err := st.Summary(ctx, name)
	if err != nil {
		return nil, err
	}
	rec := &ImageRecord{ID: sum.ID, Names: sum.Names, TopLayer: sum.TopLayer, Digest: sum.Digest, Created: sum.Created}
	cfg, man, err := st.storedConfig(ctx, rec)
	if err != nil {
		return nil, err
	}
	in := &Inspection{
		ID: sum.ID, Digest: sum.Digest, RepoTags: nonNil(sum.Names), RepoDigests: sum.RepoDigests(),
		Parent: sum.Parent, Created: cfg.Created, Config: cfg.Config, Author: cfg.Author,
		Architecture: cfg.Architecture, Variant: cfg.Variant, Os: cfg.OS, Size: sum.Size, VirtualSize: sum.Size,
		GraphDriver: GraphDriver{Name: st.Driver(), Data: st.driverData(sum.TopLayer)},
		RootFS:      InspectRootFS{Type: cfg.RootFS.Type, Layers: nonNil(cfg.RootFS.DiffIDs)},
		Labels:      cfg.Config.Labels, Annotations: map[string]string{}, ManifestType: manifest.GuessMIMEType(man),
		User: cfg.Config.User, History: nonNil(cfg.History), NamesHistory: []string{},
	}
	if n := len(cfg.History); n > 0 {
		in.Comment = cfg.History[n-1].Comment
	}
	if m, err := manifest.OCI1FromManifest(man); err == nil && m.Annotations != nil {
		in.Annotations = m.Annotations
	}
	if img, err := st.s.Image(sum.ID); err == nil && img.NamesHistory != nil {
		in.NamesHistory = img.NamesHistory
	}
	return in, nil
}

// RepoDigests pairs every repository the image is named in with each of its
// manifest digests, as podman does: "host/repo@sha256:…".
func (s *ImageSummary) RepoDigests() []string {
	digests := s.Digests
	if len(digests) == 0 && s.Digest != "" {
		digests = []digest.Digest{s.Digest}
	}
	seen := map[string]bool{}
	out := []string{}
	for _, name := range s.Names {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			continue
		}
		for _, d := range digests {
			rd := named.Name() + "@" + d.String()
			if !seen[rd] {
				seen[rd] = true
				out = append(out, rd)
			}
		}
	}
	return out
}

// SplitName splits a stored name into repository and tag; the tag is
// "<none>" for a name by digest, as in podman's images table.
func SplitName(name string) (repo, tag string) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name, "<none>"
	}
	if t, ok := named.(reference.Tagged); ok {
		return named.Name(), t.Tag()
	}
	return named.Name(), "<none>"
}

func (st *Store) driverData(layer string) map[string]string {
	out := map[string]string{}
	if layer == "" {
		return out
	}
	drv, err := st.s.GraphDriver()
	if err != nil {
		return out
	}
	md, err := drv.Metadata(layer)
	if err != nil {
		return out
	}
	for k, v := range md {
		out[k] = v
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Id is ID under the name podman's --format templates use ({{.Id}}).
func (i *Inspection) Id() string { return i.ID } //nolint:revive // podman compatibility

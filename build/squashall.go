package build

import (
	"context"

	"github.com/kiln-build/kiln/storage"
)

// squashAll replaces every layer of the final stage, the base image's too,
// with one base layer holding the whole filesystem (--squash-all), and
// rewrites the config to match: one diff id, and one history entry with a
// layer.
func (b *Builder) squashAll(ctx context.Context, s *stage, img *storage.Image) (string, error) {
	if s.top == "" {
		return "", nil
	}
	l, err := b.store.Squash(ctx, s.top)
	if err != nil {
		return "", err
	}
	img.RootFS = storage.RootFS{Type: "layers", DiffIDs: append(img.RootFS.DiffIDs[:0:0], l.DiffID)}
	for i := range img.History {
		img.History[i].EmptyLayer = true
	}
	created := b.now()
	img.History = append(img.History, storage.History{Created: &created, CreatedBy: "kiln build --squash-all",
		Comment: "squashed"})
	return l.ID, nil
}

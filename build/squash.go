package build

import (
	"context"

	"github.com/kiln-build/kiln/storage"
)

// squash replaces the layers the final stage added on its base with one
// layer holding their combined changes, and rewrites the config to match.
func (b *Builder) squash(ctx context.Context, s *stage, img *storage.Image) (string, error) {
	if s.top == s.baseTop {
		return s.top, nil
	}
	rc, err := b.store.DiffLayers(s.baseTop, s.top)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	l, err := b.store.PutLayer(ctx, s.baseTop, rc)
	if err != nil {
		return "", err
	}
	chain, err := b.store.LayerChain(s.baseTop)
	if err != nil {
		return "", err
	}
	img.RootFS.DiffIDs = append(img.RootFS.DiffIDs[:len(chain)], l.DiffID)
	// The steps stay in the history, but only the squash entry has a layer.
	for i := s.baseHistory; i < len(img.History); i++ {
		img.History[i].EmptyLayer = true
	}
	created := b.now()
	img.History = append(img.History, storage.History{Created: &created, CreatedBy: "kiln build --squash",
		Comment: "squashed"})
	return l.ID, nil
}

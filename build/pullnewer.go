package build

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kiln-build/kiln/storage"
)

// pullNewer is --pull=newer for a base image the store has: it pulls name
// again, which fetches only what the registry has changed (nothing when its
// digest is the local one). When the registry cannot be reached, the local
// image is used and a notice says so.
func (b *Builder) pullNewer(ctx context.Context, name string, local *storage.ImageRecord, p storage.Platform) (*storage.ImageRecord, error) {
	b.emit(Event{Type: "pull", Name: name + " for " + p.String() + " (if newer)"})
	var progress io.Writer
	if !b.opts.Quiet {
		progress = b.opts.Err
	}
	sys := b.opts.Sys
	sys.OS, sys.Architecture, sys.Variant = p.OS, p.Architecture, p.Variant
	rec, err := b.store.Pull(ctx, name, storage.PullOptions{System: sys, Progress: progress})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.emit(Event{Type: "notice", Time: time.Now().UTC(),
			Message: fmt.Sprintf("--pull=newer: keeping the local %s: %s", name, err)})
		rec = local
	}
	return b.store.ForPlatform(ctx, name, rec, p)
}

package storage

import (
	"fmt"
	"io/fs"

	"go.podman.io/image/v5/pkg/compression"
	"go.podman.io/image/v5/types"
)

// Compression formats Push accepts for layers it compresses.
var pushCompressions = []string{"gzip", "zstd", "zstd:chunked"}

// withCompression returns a copy of sys that compresses layers with format
// ("" keeps containers/image's default, gzip) at level (nil for the
// format's default). gzip runs in parallel blocks (pgzip), zstd on several
// threads.
func withCompression(sys *types.SystemContext, format string, level *int) (*types.SystemContext, error) {
	if format == "" && level == nil {
		return sys, nil
	}
	out := &types.SystemContext{}
	if sys != nil {
		c := *sys
		out = &c
	}
	if format != "" {
		ok := false
		for _, f := range pushCompressions {
			ok = ok || f == format
		}
		algo, err := compression.AlgorithmByName(format)
		if err != nil || !ok {
			return nil, fmt.Errorf("compression format %q: want one of %v: %w", format, pushCompressions, fs.ErrInvalid)
		}
		out.CompressionFormat = &algo
	}
	if level != nil {
		l := *level
		out.CompressionLevel = &l
	}
	return out, nil
}

package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Output is a --output destination: the final image's filesystem as a
// directory (Type "local") or a tar file (Type "tar"; Dest "-" is stdout).
type Output struct {
	Type, Dest string
	// Stdout receives the tar when Dest is "-".
	Stdout io.Writer
}

// ParseOutput reads docker's --output syntax: type=local,dest=DIR,
// type=tar,dest=FILE, or a bare DIR.
func ParseOutput(s string) (Output, error) {
	if !strings.Contains(s, "=") {
		return Output{Type: "local", Dest: s}, nil
	}
	var o Output
	for _, field := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return o, fmt.Errorf("--output %q: unknown field %q: %w", s, k, fs.ErrInvalid)
		}
	}
	if (o.Type != "local" && o.Type != "tar") || o.Dest == "" {
		return o, fmt.Errorf("--output %q: want type=local,dest=DIR or type=tar,dest=FILE: %w", s, fs.ErrInvalid)
	}
	return o, nil
}

// writeOutput exports the built image's filesystem to o.
func (b *Builder) writeOutput(ctx context.Context, imageID string, o Output) error {
	if o.Type == "tar" {
		if o.Dest == "-" {
			return b.store.Export(ctx, imageID, o.Stdout)
		}
		f, err := os.Create(o.Dest)
		if err != nil {
			return fmt.Errorf("writing --output: %w", err)
		}
		if err := b.store.Export(ctx, imageID, f); err != nil {
			f.Close()
			os.Remove(o.Dest)
			return err
		}
		return f.Close()
	}
	if err := os.MkdirAll(o.Dest, 0o755); err != nil {
		return fmt.Errorf("writing --output: %w", err)
	}
	dir, err := filepath.Abs(o.Dest)
	if err != nil {
		return fmt.Errorf("writing --output: %w", err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(b.store.Export(ctx, imageID, pw)) }()
	defer pr.Close()
	// Files land owned by whoever runs kiln, as docker's local exporter
	// writes them; names are confined to dir.
	cp := &copier{root: dir, forceOwner: true}
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("writing --output %s: %w", o.Dest, err)
		}
		if err := cp.extractEntry(tr, h); err != nil {
			return fmt.Errorf("writing --output %s: %s: %w", o.Dest, h.Name, err)
		}
	}
}

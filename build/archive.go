package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// isArchive reports whether a local ADD source is a tar archive, possibly
// compressed, which ADD unpacks instead of copying.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return false
	}
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// decompress detects gzip, bzip2, xz and zstd by their magic numbers; other
// input is returned as is. Everything happens in process: no tool from the
// image or the host is run.
func decompress(br *bufio.Reader) (io.Reader, error) {
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return xz.NewReader(br)
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return br, nil
}

// extractArchive unpacks a local archive into dir (a host path inside the
// step's root), every name confined to dir. Entries keep the archive's owners:
// ADD --chown does not apply to them, as in docker.
func extractArchive(src, dir string, cp *copier) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("opening archive %s: %w", cp.rel(src), err)
	}
	defer f.Close()
	in := &countingReader{r: f}
	dr, err := decompress(bufio.NewReader(in))
	if err != nil {
		return fmt.Errorf("decompressing %s: %w", cp.rel(src), err)
	}
	r := &expansionLimit{r: dr, in: in, name: cp.rel(src)}
	sub := &copier{root: dir, srcRoot: cp.srcRoot}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive %s: %w", cp.rel(src), err)
		}
		if err := sub.extractEntry(tr, h); err != nil {
			return fmt.Errorf("unpacking %s from %s: %w", h.Name, cp.rel(src), err)
		}
	}
}

// Decompression limits: an archive may unpack to maxExpansion times its compressed size, and
// beyond freeExpansion bytes no more than that; a gzip bomb stops with an error naming it.
const (
	freeExpansion = 1 << 30
	maxExpansion  = 100
)

// errArchiveBomb is returned when an archive expands beyond the limits.
var errArchiveBomb = errors.New("archive expands beyond the decompression limit")

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// expansionLimit fails reads once more than freeExpansion bytes came out of r and more than
// maxExpansion times what went into it (in).
type expansionLimit struct {
	r    io.Reader
	in   *countingReader
	out  int64
	name string
}

func (l *expansionLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.out += int64(n)
	if l.out > freeExpansion && l.out > maxExpansion*l.in.n {
		return n, fmt.Errorf("%s: %w (%d bytes from %d, more than %dx beyond %d bytes)",
			l.name, errArchiveBomb, l.out, l.in.n, maxExpansion, int64(freeExpansion))
	}
	return n, err
}

func (cp *copier) extractEntry(r io.Reader, h *tar.Header) error {
	name := path.Clean("/" + h.Name)
	if name == "/" {
		return nil
	}
	parent, err := cp.mkdirAll(path.Dir(name))
	if err != nil {
		return err
	}
	full := filepath.Join(parent, path.Base(name))
	switch h.Typeflag {
	case tar.TypeDir:
		if fi, err := os.Lstat(full); err != nil || !fi.IsDir() {
			removeNonDir(full)
			if err := os.Mkdir(full, 0o755); err != nil {
				return err
			}
		}
	case tar.TypeReg:
		removeNonDir(full)
		out, err := os.OpenFile(full, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, cerr := io.Copy(out, r)
		if err := errors.Join(cerr, out.Close()); err != nil {
			return err
		}
	case tar.TypeSymlink:
		removeNonDir(full)
		if err := os.Symlink(h.Linkname, full); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := cp.resolve(path.Clean("/" + h.Linkname))
		if err != nil {
			return err
		}
		removeNonDir(full)
		if err := os.Link(target, full); err != nil {
			return err
		}
		return nil
	default:
		return nil
	}
	uid, gid := h.Uid, h.Gid
	if cp.forceOwner {
		uid, gid = cp.uid, cp.gid
	}
	if err := lchown(full, uid, gid); err != nil {
		return fmt.Errorf("changing owner: %w", err)
	}
	if h.Typeflag != tar.TypeSymlink {
		if err := chmodKeepingOwner(full, h.FileInfo().Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
	}
	return keepTimes(full, h.FileInfo())
}

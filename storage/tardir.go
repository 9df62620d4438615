package storage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"go.podman.io/image/v5/pkg/compression"
)

// tarDir writes the regular files and directories under dir to w as a tar
// with relative names, in lexical order, owned by root, so that the same
// layout always gives the same archive.
func tarDir(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() && !info.IsDir() {
			return fmt.Errorf("%s is neither a file nor a directory: %w", rel, fs.ErrInvalid)
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name, h.Uid, h.Gid, h.Uname, h.Gname = filepath.ToSlash(rel), 0, 0, "", ""
		h.ModTime, h.Format = time.Unix(0, 0), tar.FormatPAX
		if info.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archiving %s: %w", dir, err)
	}
	return nil
}

// untar unpacks the regular files and directories of the (possibly
// compressed) tar at path into dir. Entries escaping dir, links and devices
// are refused: an image archive holds none.
func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening archive: %w", err)
	}
	defer f.Close()
	r, _, err := compression.AutoDecompress(f)
	if err != nil {
		return fmt.Errorf("opening archive: %w", err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if err := untarEntry(tr, h, dir); err != nil {
			return err
		}
	}
}

func untarEntry(tr *tar.Reader, h *tar.Header, dir string) error {
	name := filepath.Clean(filepath.FromSlash(h.Name))
	if !filepath.IsLocal(name) {
		return fmt.Errorf("archive entry %q points outside the archive: %w", h.Name, fs.ErrInvalid)
	}
	target := filepath.Join(dir, name)
	switch h.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("unpacking %s: %w", h.Name, err)
		}
		return nil
	case tar.TypeReg:
	default:
		return fmt.Errorf("archive entry %q is not a file or directory: %w", h.Name, fs.ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("unpacking %s: %w", h.Name, err)
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("unpacking %s: %w", h.Name, err)
	}
	_, err = io.Copy(out, tr)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("unpacking %s: %w", h.Name, err)
	}
	return nil
}

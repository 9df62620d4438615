package storage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Flattening merges an image's layer tars into one tar of its final
// filesystem without mounting anything, so it works the same on every
// driver, rootless or not, and keeps every header (owners, modes, times,
// xattrs) exactly as the layers hold them.
//
// A first pass reads the layers from the top down and decides, for each
// path, which layer's entry survives the whiteouts (".wh.NAME"), opaque
// markers (".wh..wh..opq") and replacements above it. A second pass streams
// the layers from the bottom up and writes the surviving entries; a
// directory whose surviving header comes from a higher layer is written
// where the directory first appears, so that parents always precede their
// children.

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// flatPlan is the outcome of the first pass.
type flatPlan struct {
	keep      []map[string]bool      // per layer: paths whose entry survives
	dirs      map[string]*tar.Header // surviving directory headers, by path
	linkTargs []map[string]bool      // per layer: hard link targets to copy out
}

// hideRules are what the layers above the one being read hide.
type hideRules struct {
	gone map[string]bool // the path and everything under it
	cut  map[string]bool // everything strictly under the path
}

func (h hideRules) hides(p string) bool {
	if h.gone[p] {
		return true
	}
	for a := path.Dir(p); a != "." && a != "/"; a = path.Dir(a) {
		if h.gone[a] || h.cut[a] {
			return true
		}
	}
	return false
}

// cleanName normalizes a tar entry name: no leading "./" or "/", no
// trailing "/"; the root is "".
func cleanName(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

// planFlatten runs the first pass over layers (bottom first).
func (st *Store) planFlatten(layers []*Layer) (*flatPlan, error) {
	n := len(layers)
	plan := &flatPlan{keep: make([]map[string]bool, n), dirs: map[string]*tar.Header{}, linkTargs: make([]map[string]bool, n)}
	rules := hideRules{gone: map[string]bool{}, cut: map[string]bool{}}
	seen := map[string]bool{}
	for i := n - 1; i >= 0; i-- {
		plan.keep[i], plan.linkTargs[i] = map[string]bool{}, map[string]bool{}
		next := hideRules{gone: map[string]bool{}, cut: map[string]bool{}}
		err := st.eachHeader(layers[i].ID, func(h *tar.Header) error {
			p := cleanName(h.Name)
			dir, base := path.Dir(p), path.Base(p)
			switch {
			case p == "":
				return nil
			case base == opaqueMarker:
				next.cut[dir] = true
				return nil
			case strings.HasPrefix(base, whiteoutPrefix):
				next.gone[path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix))] = true
				return nil
			case seen[p] || rules.hides(p):
				return nil
			}
			seen[p] = true
			plan.keep[i][p] = true
			if h.Typeflag == tar.TypeDir {
				plan.dirs[p] = h
			} else {
				next.cut[p] = true
			}
			if h.Typeflag == tar.TypeLink {
				plan.linkTargs[i][cleanName(h.Linkname)] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for p := range next.gone {
			rules.gone[p] = true
		}
		for p := range next.cut {
			rules.cut[p] = true
		}
	}
	// A link whose target survives from its own layer can stay a link; the
	// others must carry the content.
	for i := range plan.linkTargs {
		for t := range plan.linkTargs[i] {
			if plan.keep[i][t] {
				delete(plan.linkTargs[i], t)
			}
		}
	}
	return plan, nil
}

// eachHeader calls fn for every header of a stored layer's tar.
func (st *Store) eachHeader(id string, fn func(*tar.Header) error) error {
	rc, err := st.LayerTar(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", id, err)
		}
		if err := fn(h); err != nil {
			return err
		}
	}
}

// flatten writes the merged filesystem of layers (bottom first) to w.
func (st *Store) flatten(ctx context.Context, layers []*Layer, w io.Writer) error {
	plan, err := st.planFlatten(layers)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	fw := &flatWriter{tw: tw, plan: plan, written: map[string]bool{}}
	for i, l := range layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fw.layer(st, i, l.ID); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finishing tar: %w", err)
	}
	return nil
}

// flatWriter is the second pass.
type flatWriter struct {
	tw      *tar.Writer
	plan    *flatPlan
	written map[string]bool
}

func (fw *flatWriter) layer(st *Store, i int, id string) error {
	rc, err := st.LayerTar(id)
	if err != nil {
		return err
	}
	defer rc.Close()
	copies := map[string]string{} // link target → temporary copy of its content
	defer func() {
		for _, f := range copies {
			os.Remove(f)
		}
	}()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer %s: %w", id, err)
		}
		if err := fw.entry(tr, h, i, copies); err != nil {
			return fmt.Errorf("writing %s from layer %s: %w", h.Name, id, err)
		}
	}
}

func (fw *flatWriter) entry(tr *tar.Reader, h *tar.Header, i int, copies map[string]string) error {
	p := cleanName(h.Name)
	if fw.plan.linkTargs[i][p] && h.Typeflag == tar.TypeReg {
		// Not kept itself (planFlatten dropped kept targets), but a kept
		// link needs its content.
		f, err := spool(tr)
		if err != nil {
			return err
		}
		copies[p] = f
		return nil
	}
	if h.Typeflag == tar.TypeDir {
		// The surviving header of a directory goes out where it first
		// appears, whichever layer it comes from.
		if dh, ok := fw.plan.dirs[p]; ok && !fw.written[p] {
			return fw.write(dh, p, nil)
		}
		return nil
	}
	if !fw.plan.keep[i][p] {
		return nil
	}
	if h.Typeflag == tar.TypeLink {
		if f, ok := copies[cleanName(h.Linkname)]; ok {
			reg := *h
			reg.Typeflag, reg.Linkname = tar.TypeReg, ""
			return fw.writeFile(&reg, p, f)
		}
		h.Linkname = cleanName(h.Linkname)
	}
	return fw.write(h, p, tr)
}

func (fw *flatWriter) writeFile(h *tar.Header, p, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	c := *h
	c.Size = info.Size()
	return fw.write(&c, p, f)
}

func (fw *flatWriter) write(h *tar.Header, p string, body io.Reader) error {
	c := *h
	c.Name = p
	if c.Typeflag == tar.TypeDir {
		c.Name += "/"
	}
	fw.written[p] = true
	if err := fw.tw.WriteHeader(&c); err != nil {
		// A name changed by cleaning may not fit the original format.
		c.Format = tar.FormatUnknown
		if err := fw.tw.WriteHeader(&c); err != nil {
			return err
		}
	}
	if body != nil && c.Size > 0 {
		if _, err := io.CopyN(fw.tw, body, c.Size); err != nil {
			return err
		}
	}
	return nil
}

package main

// Reading the image kiln saved (docker-archive) and comparing its layers with the corpus goldens
// (testdata/dockerfiles/README.md describes the entry format, made by contrib/golden/main.go).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// layerEntry is one tar entry of a layer, as the goldens list it.
type layerEntry struct {
	Path     string            `json:"path"`
	Type     string            `json:"type"`
	Mode     string            `json:"mode,omitempty"`
	UID      int               `json:"uid"`
	GID      int               `json:"gid"`
	Size     int64             `json:"size,omitempty"`
	SHA256   string            `json:"sha256,omitempty"`
	Linkname string            `json:"linkname,omitempty"`
	Xattrs   map[string]string `json:"xattrs,omitempty"`
}

// key identifies an entry within one layer: an opaque marker has its directory's path.
func (e layerEntry) key() string {
	switch e.Type {
	case "opaque", "whiteout":
		return e.Type + ":" + e.Path
	}
	return e.Path
}

func (e layerEntry) String() string {
	switch e.Type {
	case "opaque", "whiteout":
		return e.Type
	}
	s := fmt.Sprintf("%s %s %d:%d", e.Type, e.Mode, e.UID, e.GID)
	if e.Type == "file" {
		s += fmt.Sprintf(" size %d sha256 %.12s", e.Size, e.SHA256)
	}
	if e.Linkname != "" {
		s += " -> " + e.Linkname
	}
	if len(e.Xattrs) > 0 {
		s += " xattrs " + jsonOf(e.Xattrs)
	}
	return s
}

// imageConfigFile is the part of an image config blob the corpus compares.
type imageConfigFile struct {
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Variant      string         `json:"variant"`
	Author       string         `json:"author"`
	Config       map[string]any `json:"config"`
	History      []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

// savedImage is the one image of a docker-archive.
type savedImage struct {
	config imageConfigFile
	layers [][]layerEntry // bottom first
}

// readSavedImage reads a docker-archive holding one image.
func readSavedImage(archive string) (*savedImage, error) {
	files, err := readTarFiles(archive)
	if err != nil {
		return nil, err
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return nil, fmt.Errorf("parsing manifest.json: %w", err)
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("manifest.json lists %d images, want 1", len(manifest))
	}
	img := &savedImage{}
	raw, ok := files[path.Clean(manifest[0].Config)]
	if !ok {
		return nil, fmt.Errorf("config %s missing from the archive", manifest[0].Config)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&img.config); err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", manifest[0].Config, err)
	}
	for _, name := range manifest[0].Layers {
		data, ok := files[path.Clean(name)]
		if !ok {
			return nil, fmt.Errorf("layer %s missing from the archive", name)
		}
		entries, err := listLayerEntries(data)
		if err != nil {
			return nil, fmt.Errorf("listing layer %s: %w", name, err)
		}
		img.layers = append(img.layers, entries)
	}
	return img, nil
}

// layersByStep returns, for each history entry, its layer's entries, nil for an empty_layer one.
func (img *savedImage) layersByStep() ([][]layerEntry, error) {
	steps := make([][]layerEntry, len(img.config.History))
	n := 0
	for i, h := range img.config.History {
		if h.EmptyLayer {
			continue
		}
		if n >= len(img.layers) {
			return nil, fmt.Errorf("history has more non-empty entries than the %d layers", len(img.layers))
		}
		steps[i] = img.layers[n]
		if steps[i] == nil {
			steps[i] = []layerEntry{}
		}
		n++
	}
	if n != len(img.layers) {
		return nil, fmt.Errorf("history has %d non-empty entries for %d layers", n, len(img.layers))
	}
	return steps, nil
}

// readTarFiles returns the regular files of a tar archive by cleaned name; hard and symbolic
// links to regular files resolve to their content.
func readTarFiles(archive string) (map[string][]byte, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := map[string][]byte{}
	links := map[string]string{}
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", archive, err)
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		case tar.TypeLink:
			links[name] = path.Clean(h.Linkname)
		case tar.TypeReg:
			if files[name], err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("reading %s in %s: %w", h.Name, archive, err)
			}
		}
	}
	for name, target := range links {
		for i := 0; i < 8 && links[target] != ""; i++ {
			target = links[target]
		}
		if data, ok := files[target]; ok {
			files[name] = data
		}
	}
	return files, nil
}

// listLayerEntries lists a layer tarball (plain or gzip) the way contrib/golden/main.go does.
func listLayerEntries(data []byte) ([]layerEntry, error) {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	var entries []layerEntry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		e, err := describeEntry(h, tr)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", h.Name, err)
		}
		if e.Path != "" {
			entries = append(entries, e)
		}
	}
}

func describeEntry(h *tar.Header, content io.Reader) (layerEntry, error) {
	p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == ".wh..wh..opq":
		return layerEntry{Path: dir, Type: "opaque"}, nil
	case strings.HasPrefix(base, ".wh."):
		return layerEntry{Path: path.Join(dir, strings.TrimPrefix(base, ".wh.")), Type: "whiteout"}, nil
	}
	e := layerEntry{Path: p, Mode: fmt.Sprintf("%04o", h.Mode&0o7777), UID: h.Uid, GID: h.Gid}
	switch h.Typeflag {
	case tar.TypeReg:
		sum := sha256.New()
		n, err := io.Copy(sum, content)
		if err != nil {
			return e, err
		}
		e.Type, e.Size, e.SHA256 = "file", n, hex.EncodeToString(sum.Sum(nil))
	case tar.TypeDir:
		e.Type = "dir"
	case tar.TypeSymlink:
		e.Type, e.Linkname = "symlink", h.Linkname
	case tar.TypeLink:
		e.Type, e.Linkname = "hardlink", strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
	case tar.TypeChar:
		e.Type = "char"
	case tar.TypeBlock:
		e.Type = "block"
	case tar.TypeFifo:
		e.Type = "fifo"
	default:
		return e, fmt.Errorf("unexpected tar type %q", h.Typeflag)
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string]string{}
			}
			e.Xattrs[name] = hex.EncodeToString([]byte(v))
		}
	}
	return e, nil
}

// tree is the file system the layers below the one being compared make: path to entry.
type tree map[string]layerEntry

func newTree() tree { return tree{} }

// apply stacks one layer: whiteouts and opaque markers hide lower entries, then entries are set.
func (tr tree) apply(entries []layerEntry) {
	for _, e := range entries {
		switch e.Type {
		case "whiteout", "opaque":
			for p := range tr {
				if strings.HasPrefix(p, e.Path+"/") || (e.Type == "whiteout" && p == e.Path) {
					delete(tr, p)
				}
			}
		}
	}
	for _, e := range entries {
		if e.Type != "whiteout" && e.Type != "opaque" {
			tr[e.Path] = e
		}
	}
}

// compareLayer compares one layer's entries as a set. A directory entry on one side only is
// ignored when it is only a parent of other entries of the layer and its mode and owner equal the
// lower layers' (docker lists every parent of a changed path; README, "Comparing").
func (d *differ) compareLayer(step int, createdBy string, got, want []layerEntry, lower tree) {
	gm, wm := map[string]layerEntry{}, map[string]layerEntry{}
	for _, e := range got {
		gm[e.key()] = e
	}
	for _, e := range want {
		wm[e.key()] = e
	}
	all := append(append([]layerEntry{}, got...), want...)
	var diffs []string
	for k, w := range wm {
		g, ok := gm[k]
		switch {
		case !ok && !parentOnly(w, all, lower):
			diffs = append(diffs, fmt.Sprintf("missing %s (%s)", w.Path, w))
		case ok && g.String() != w.String():
			diffs = append(diffs, fmt.Sprintf("%s: got %s want %s", w.Path, g, w))
		}
	}
	for k, g := range gm {
		if _, ok := wm[k]; !ok && !parentOnly(g, all, lower) {
			diffs = append(diffs, fmt.Sprintf("extra %s (%s)", g.Path, g))
		}
	}
	if len(diffs) == 0 {
		return
	}
	sort.Strings(diffs)
	if len(diffs) > 25 {
		diffs = append(diffs[:25], fmt.Sprintf("... %d more", len(diffs)-25))
	}
	d.addf("layer of history[%d] %q (%d entries, want %d):\n    %s", step, createdBy, len(got), len(want), strings.Join(diffs, "\n    "))
}

// parentOnly reports whether e is a directory entry that is only there as a parent: unchanged
// from the lower layers, with other entries of the layer below it.
func parentOnly(e layerEntry, layer []layerEntry, lower tree) bool {
	if e.Type != "dir" {
		return false
	}
	l, ok := lower[e.Path]
	if !ok || l.String() != e.String() {
		return false
	}
	for _, o := range layer {
		if strings.HasPrefix(o.Path, e.Path+"/") {
			return true
		}
	}
	return false
}

// Command golden turns a `docker save` archive of one image into the expected.json golden file of
// the differential Dockerfile corpus in testdata/dockerfiles (see regen.sh there and README.md).
//
// Usage:
//
//	docker save IMAGE | go run ./contrib/golden -builder "docker buildkit ..." -skip N -o expected.json
//
// The golden holds the image config's "config" object exactly as the builder wrote it, the
// architecture, os and author (MAINTAINER), the history (created_by and empty_layer only), and for every layer above
// the first N (the base image's) a listing of its tar entries in tar order: path, type, mode,
// uid, gid, and size and sha256 for regular files, linkname for links. Fields that legitimately
// differ between builders (timestamps, ids, docker_version, container_config, history comments,
// mtimes) are left out. Output is deterministic: sorted keys, two-space indentation.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

type manifestEntry struct {
	Config string
	Layers []string
}

type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Variant      string          `json:"variant,omitempty"`
	Author       string          `json:"author,omitempty"`
	Config       json.RawMessage `json:"config"`
	History      []struct {
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

func main() {
	builder := flag.String("builder", "", "name and version of the builder that made the image (required)")
	skip := flag.Int("skip", 1, "number of bottom layers that belong to the base image and are not listed")
	in := flag.String("i", "-", "docker save archive to read, - for standard input")
	out := flag.String("o", "-", "file to write, - for standard output")
	flag.Parse()
	if *builder == "" {
		fmt.Fprintln(os.Stderr, "golden: -builder is required")
		os.Exit(2)
	}
	if err := run(*in, *out, *builder, *skip); err != nil {
		fmt.Fprintf(os.Stderr, "golden: %v\n", err)
		os.Exit(1)
	}
}

func run(in, out, builder string, skip int) error {
	r := io.Reader(os.Stdin)
	if in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	files, err := readArchive(r)
	if err != nil {
		return fmt.Errorf("reading save archive %s: %w", in, err)
	}
	golden, err := buildGolden(files, builder, skip)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(golden); err != nil {
		return fmt.Errorf("encoding golden: %w", err)
	}
	if out == "-" {
		_, err = os.Stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

// readArchive returns the regular files of a docker save archive by name. A layer that occurs
// twice is saved once and linked to (docker 20.10 writes a symlink); links resolve to the content.
func readArchive(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	links := map[string]string{}
	tr := tar.NewReader(bufio.NewReader(r))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name := path.Clean(h.Name)
		switch h.Typeflag {
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), h.Linkname)
		case tar.TypeLink:
			links[name] = path.Clean(h.Linkname)
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", h.Name, err)
			}
			files[name] = data
		}
	}
	for name, target := range links {
		for i := 0; i < 8; i++ {
			if next, ok := links[target]; ok {
				target = next
			}
		}
		if data, ok := files[target]; ok {
			files[name] = data
		}
	}
	return files, nil
}

func buildGolden(files map[string][]byte, builder string, skip int) (map[string]any, error) {
	var manifest []manifestEntry
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return nil, fmt.Errorf("parsing manifest.json: %w", err)
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("manifest.json lists %d images, want 1", len(manifest))
	}
	m := manifest[0]
	rawConfig, ok := files[path.Clean(m.Config)]
	if !ok {
		return nil, fmt.Errorf("config %s missing from archive", m.Config)
	}
	var cfg imageConfig
	if err := json.Unmarshal(rawConfig, &cfg); err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", m.Config, err)
	}
	if skip < 0 || skip > len(m.Layers) {
		return nil, fmt.Errorf("-skip %d out of range: image has %d layers", skip, len(m.Layers))
	}
	config, err := decodeGeneric(cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("parsing config object: %w", err)
	}

	history := []any{}
	var layerSteps []string
	for _, h := range cfg.History {
		history = append(history, map[string]any{"created_by": h.CreatedBy, "empty_layer": h.EmptyLayer})
		if !h.EmptyLayer {
			layerSteps = append(layerSteps, h.CreatedBy)
		}
	}
	if len(layerSteps) != len(m.Layers) {
		return nil, fmt.Errorf("history has %d non-empty entries for %d layers", len(layerSteps), len(m.Layers))
	}

	layers := []any{}
	for i := skip; i < len(m.Layers); i++ {
		data, ok := files[path.Clean(m.Layers[i])]
		if !ok {
			return nil, fmt.Errorf("layer %s missing from archive", m.Layers[i])
		}
		entries, err := listLayer(data)
		if err != nil {
			return nil, fmt.Errorf("listing layer %s: %w", m.Layers[i], err)
		}
		layers = append(layers, map[string]any{"created_by": layerSteps[i], "entries": entries})
	}

	g := map[string]any{
		"builder":      builder,
		"architecture": cfg.Architecture,
		"os":           cfg.OS,
		"config":       config,
		"history":      history,
		"base_layers":  skip,
		"layers":       layers,
	}
	if cfg.Variant != "" {
		g["variant"] = cfg.Variant
	}
	if cfg.Author != "" {
		g["author"] = cfg.Author
	}
	return g, nil
}

// decodeGeneric decodes JSON into maps and slices, keeping numbers as written, so that encoding
// it again sorts the keys and changes nothing else. A missing or null object decodes to nil.
func decodeGeneric(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// listLayer lists the entries of one layer tarball (plain or gzip) in tar order.
func listLayer(data []byte) ([]any, error) {
	var r io.Reader = bytes.NewReader(data)
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	entries := []any{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		e, err := describe(h, tr)
		if err != nil {
			return nil, fmt.Errorf("entry %s: %w", h.Name, err)
		}
		entries = append(entries, e)
	}
}

func cleanPath(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

func describe(h *tar.Header, content io.Reader) (map[string]any, error) {
	p := cleanPath(h.Name)
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == opaqueMarker:
		return map[string]any{"path": dir, "type": "opaque"}, nil
	case strings.HasPrefix(base, whiteoutPrefix):
		return map[string]any{"path": path.Join(dir, strings.TrimPrefix(base, whiteoutPrefix)), "type": "whiteout"}, nil
	}
	e := map[string]any{
		"path": p,
		"mode": fmt.Sprintf("%04o", h.Mode&0o7777),
		"uid":  h.Uid,
		"gid":  h.Gid,
	}
	switch h.Typeflag {
	case tar.TypeReg:
		sum := sha256.New()
		n, err := io.Copy(sum, content)
		if err != nil {
			return nil, err
		}
		e["type"] = "file"
		e["size"] = n
		e["sha256"] = hex.EncodeToString(sum.Sum(nil))
	case tar.TypeDir:
		e["type"] = "dir"
	case tar.TypeSymlink:
		e["type"] = "symlink"
		e["linkname"] = h.Linkname
	case tar.TypeLink:
		e["type"] = "hardlink"
		e["linkname"] = cleanPath(h.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		e["type"] = map[byte]string{tar.TypeChar: "char", tar.TypeBlock: "block"}[h.Typeflag]
		e["devmajor"] = h.Devmajor
		e["devminor"] = h.Devminor
	case tar.TypeFifo:
		e["type"] = "fifo"
	default:
		return nil, fmt.Errorf("unexpected tar type %q", h.Typeflag)
	}
	if x := xattrs(h); len(x) > 0 {
		e["xattrs"] = x
	}
	return e, nil
}

// xattrs returns the entry's extended attributes, values hex-encoded, from PAX records.
func xattrs(h *tar.Header) map[string]string {
	const prefix = "SCHILY.xattr."
	x := map[string]string{}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			x[name] = hex.EncodeToString([]byte(v))
		}
	}
	return x
}

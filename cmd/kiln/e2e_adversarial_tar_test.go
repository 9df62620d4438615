package main

// Crafted archives for the adversarial suite (e2e_adversarial_test.go): layer tars with escaping
// names, links and whiteouts, docker-archives with broken manifests and digests, and a gzip bomb.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// entry is one crafted tar entry: typ is a tar type flag ('0' file, '2' symlink, '1' hardlink,
// '5' directory).
type entry struct {
	typ        byte
	name, link string
	body       string
}

func regEnt(name, body string) entry { return entry{typ: tar.TypeReg, name: name, body: body} }
func symlink(name, to string) entry  { return entry{typ: tar.TypeSymlink, name: name, link: to} }
func hardlink(name, to string) entry {
	return entry{typ: tar.TypeLink, name: name, link: to}
}
func dirEntry(name string) entry { return entry{typ: tar.TypeDir, name: name} }

// tarOf is the bytes of a tar stream holding entries, in order.
func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: 0o644,
			ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing tar entry %s: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// gzipBomb is a .tar.gz whose one entry (of an unknown type, so nothing is written to disk)
// unpacks to more than 1 GiB of zeros from about a megabyte: concatenated gzip members.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	const chunk, chunks = 16 << 20, 70
	zeros := make([]byte, chunk)
	member := func(data []byte) []byte {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Typeflag: 'Z', Name: "bomb", Size: chunk * chunks, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.Write(member(hdr.Bytes()))
	z := member(zeros)
	for i := 0; i < chunks; i++ {
		out.Write(z)
	}
	out.Write(member(make([]byte, 1024))) // the two end-of-archive blocks
	return out.Bytes()
}

// archiveLayer is one layer of a crafted docker-archive: its file name in the archive, its
// bytes, and the diff id the config claims for it ("" for the real one).
type archiveLayer struct {
	file   string
	data   []byte
	diffID string
}

// dockerArchive writes a docker-archive (what kiln save writes) holding one image with layers;
// manifest, when not nil, replaces the manifest.json kiln would need.
func dockerArchive(t *testing.T, path, configFile string, layers []archiveLayer, manifest []byte) string {
	t.Helper()
	var diffIDs, files []string
	for _, l := range layers {
		id := l.diffID
		if id == "" {
			id = "sha256:" + sha256Hex(l.data)
		}
		diffIDs = append(diffIDs, id)
		files = append(files, l.file)
	}
	cfg, err := json.Marshal(map[string]any{"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}}, "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	if err != nil {
		t.Fatal(err)
	}
	if configFile == "" {
		configFile = sha256Hex(cfg) + ".json"
	}
	if manifest == nil {
		manifest, _ = json.Marshal([]map[string]any{{"Config": configFile, "RepoTags": []string{"adv:latest"}, "Layers": files}})
	}
	ents := []entry{regEnt("manifest.json", string(manifest)), regEnt(configFile, string(cfg))}
	for _, l := range layers {
		ents = append(ents, regEnt(l.file, string(l.data)))
	}
	return writeFile(t, filepath.Dir(path), filepath.Base(path), tarOf(t, ents...))
}

// layerFile is the conventional name of a layer in a docker-archive.
func layerFile(data []byte) string { return fmt.Sprintf("%s.tar", sha256Hex(data)) }

package main

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateImage writes image to an OCI layout with kiln push and checks it
// the way a registry or runtime would: every blob's digest and size match
// its content, the config's diff_ids are the digests of the uncompressed
// layers in order, and the history has one non-empty entry per layer.
func validateImage(t *testing.T, s store, image string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "oci")
	s.mustKiln(t, "push", "-q", image, "oci:"+dir+":v")
	var index struct {
		Manifests []ociDesc `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("validate %s: index has %d manifests, want 1", image, len(index.Manifests))
	}
	var man struct {
		Config ociDesc   `json:"config"`
		Layers []ociDesc `json:"layers"`
	}
	readJSON(t, checkBlob(t, dir, index.Manifests[0]), &man)
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
		History []struct {
			EmptyLayer bool `json:"empty_layer"`
		} `json:"history"`
	}
	readJSON(t, checkBlob(t, dir, man.Config), &cfg)
	if len(cfg.RootFS.DiffIDs) != len(man.Layers) {
		t.Fatalf("validate %s: %d diff_ids for %d layers", image, len(cfg.RootFS.DiffIDs), len(man.Layers))
	}
	nonEmpty := 0
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if len(cfg.History) > 0 && nonEmpty != len(man.Layers) {
		t.Errorf("validate %s: %d non-empty history entries for %d layers", image, nonEmpty, len(man.Layers))
	}
	for i, l := range man.Layers {
		if got := uncompressedDigest(t, checkBlob(t, dir, l), l.MediaType); got != cfg.RootFS.DiffIDs[i] {
			t.Errorf("validate %s: layer %d uncompresses to %s, config says %s", image, i, got, cfg.RootFS.DiffIDs[i])
		}
	}
}

type ociDesc struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// checkBlob verifies a blob of an OCI layout against its descriptor and returns its path.
func checkBlob(t *testing.T, dir string, d ociDesc) string {
	t.Helper()
	algo, hex, ok := strings.Cut(d.Digest, ":")
	if !ok || algo != "sha256" || len(hex) != 64 {
		t.Fatalf("bad digest %q", d.Digest)
	}
	p := filepath.Join(dir, "blobs", algo, hex)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("sha256:%x", h.Sum(nil)); got != d.Digest || n != d.Size {
		t.Errorf("blob %s: content is %s, %d bytes; descriptor says %d bytes", d.Digest, got, n, d.Size)
	}
	return p
}

func uncompressedDigest(t *testing.T, p, mediaType string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(mediaType, "gzip") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

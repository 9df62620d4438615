package main

// --compression-format picks the layers' compression on push, and a wrong one is a clear error.
// The proxy counts what a push sends. (That a second push sends no layer bytes is
// e2e_push_reuse_test.go's subject.)

import (
	"archive/tar"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// countingProxy forwards TCP connections to target and counts the bytes clients send.
type countingProxy struct {
	ln   net.Listener
	sent atomic.Int64
	wg   sync.WaitGroup
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.forward(c, target) }()
		}
	}()
	return p
}

func (p *countingProxy) forward(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(c, up)
		c.Close()
		close(done)
	}()
	n, _ := io.Copy(up, c)
	p.sent.Add(n)
	up.Close()
	<-done
}

// randomLayerTar writes a tar holding one file of size random (incompressible) bytes.
func randomLayerTar(t *testing.T, size int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	data := make([]byte, size)
	rand.Read(data)
	if err := tw.WriteHeader(&tar.Header{Name: "random.bin", Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestE2EPushCompression(t *testing.T) {
	e2eTest(t)
	r := startRegistry(t)
	proxy := startCountingProxy(t, r.host)
	host := proxy.ln.Addr().String()
	const layerSize = 2 << 20
	s := newStore(t)
	s.mustKiln(t, "import", randomLayerTar(t, layerSize), "e2e-pushbytes")

	push := func(ref string, flags ...string) int64 {
		t.Helper()
		before := proxy.sent.Load()
		args := r.args("push", append(flags, "e2e-pushbytes", "docker://"+host+"/"+ref)...)
		s.mustKiln(t, args...)
		return proxy.sent.Load() - before
	}
	if n := push("e2e/pushbytes:v1"); n < layerSize {
		t.Fatalf("first push sent %d bytes, less than the %d-byte random layer", n, layerSize)
	}
	// An explicit compression format sends the layer in it, even though a gzip copy exists.
	if n := push("e2e/pushbytes:zstd", "--compression-format", "zstd", "--compression-level", "3"); n < layerSize {
		t.Errorf("push with --compression-format zstd sent %d bytes, want the whole layer again", n)
	}
	raw := r.skopeo(t, "inspect", "--raw", "--cert-dir", r.certDir, "--creds", r.creds(),
		"docker://"+r.ref("e2e/pushbytes:zstd"))
	if !strings.Contains(raw, "zstd") {
		t.Errorf("manifest pushed with --compression-format zstd names no zstd layer:\n%s", raw)
	}
	res := s.kiln(t, r.args("push", "--compression-format", "lz4", "e2e-pushbytes", "docker://"+host+"/e2e/pushbytes:lz4")...)
	wantError(t, res, "compression format")
}

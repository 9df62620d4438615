package main

// A registry that misbehaves: an HTTPS proxy on 127.0.0.1 in front of the test registry answers
// 503, 502 or 429 instead of forwarding, drops connections in the middle of a body, or flips a
// byte of every blob it serves. Pushes and pulls through it must give the right digests or fail
// with a clear error, and a failed pull must leave no image and nothing `kiln system check` minds.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// proxyFault is how the proxy misbehaves.
type proxyFault string

const (
	faultNone proxyFault = "none"
	fault503  proxyFault = "503"  // a registry's UNAVAILABLE error for a blob or manifest request
	fault502  proxyFault = "502"  // a load balancer's bare HTML 502 for one
	fault429  proxyFault = "429"  // TOOMANYREQUESTS for one
	faultDrop proxyFault = "drop" // a blob body cut at a random point, or an upload's connection closed unanswered
	faultFlip proxyFault = "flip" // one byte of every blob body flipped
)

// faultBudget is how many faults the proxy injects per setting: fewer than kiln's three
// attempts, so that the retries can succeed.
const faultBudget = 2

// faultProxy is the misbehaving proxy. Each fault but faultFlip hits only the first request of
// each method and path, and at most faultBudget of them.
type faultProxy struct {
	host string // 127.0.0.1:PORT
	rp   *httputil.ReverseProxy

	mu       sync.Mutex
	fault    proxyFault
	seen     map[string]bool
	injected int
}

type faultKey struct{}

func startFaultProxy(t *testing.T, r *registry) *faultProxy {
	t.Helper()
	p := &faultProxy{fault: faultNone, seen: map[string]bool{}}
	p.rp = registryReverseProxy(t, r)
	p.rp.ModifyResponse = p.corrupt
	// httptest serves HTTP/1.1 only, so a dropped body closes the connection.
	p.host = serveAsRegistry(t, r, p)
	return p
}

// registryReverseProxy is a reverse proxy to r that trusts r's CA.
func registryReverseProxy(t *testing.T, r *registry) *httputil.ReverseProxy {
	t.Helper()
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "https", Host: r.host})
	rp.Transport = &http.Transport{TLSClientConfig: r.tlsConfig(t)}
	rp.ErrorLog = log.New(io.Discard, "", 0)
	return rp
}

// serveAsRegistry serves h over TLS with r's certificate, so that kiln trusts it as it trusts r,
// until the test ends, and returns its host:port.
func serveAsRegistry(t *testing.T, r *registry, h http.Handler) string {
	t.Helper()
	dir := filepath.Dir(r.certDir)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatalf("loading the registry's certificate: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// set makes the proxy misbehave with f from now on.
func (p *faultProxy) set(f proxyFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.seen, p.injected = f, map[string]bool{}, 0
}

// count is how many faults were injected since set.
func (p *faultProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// decide returns the fault for req, or faultNone, and counts it.
func (p *faultProxy) decide(req *http.Request) proxyFault {
	p.mu.Lock()
	defer p.mu.Unlock()
	blob := strings.Contains(req.URL.Path, "/blobs/")
	switch p.fault {
	case faultNone:
		return faultNone
	case faultFlip:
		if !blob || req.Method != http.MethodGet {
			return faultNone
		}
		p.injected++
		return faultFlip
	case faultDrop:
		if !blob || req.Method == http.MethodHead || req.Method == http.MethodPost {
			return faultNone
		}
	default:
		if !blob && !strings.Contains(req.URL.Path, "/manifests/") {
			return faultNone
		}
	}
	key := req.Method + " " + req.URL.Path
	if p.seen[key] || p.injected >= faultBudget {
		return faultNone
	}
	p.seen[key] = true
	p.injected++
	return p.fault
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	f := p.decide(req)
	errBody := func(code int, name, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, name, msg)
	}
	switch {
	case f == fault503:
		errBody(http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
	case f == fault429:
		errBody(http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
	case f == fault502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
	case f == faultDrop && req.Method != http.MethodGet:
		panic(http.ErrAbortHandler) // closes the connection without an answer
	default:
		p.rp.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), faultKey{}, f)))
	}
}

// corrupt cuts or flips the body of a blob GET the request's fault asks for.
func (p *faultProxy) corrupt(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(faultKey{}).(proxyFault)
	if resp.StatusCode/100 != 2 || resp.ContentLength < 2 {
		return nil
	}
	at := 1 + rand.Int63n(resp.ContentLength-1)
	switch f {
	case faultDrop:
		resp.Body = &cutBody{ReadCloser: resp.Body, left: at}
	case faultFlip:
		resp.Body = &flipBody{ReadCloser: resp.Body, at: at}
	}
	return nil
}

// cutBody ends in an error after left bytes: the proxy then drops the connection.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (b *cutBody) Read(buf []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("fault proxy: cutting the body")
	}
	if int64(len(buf)) > b.left {
		buf = buf[:b.left]
	}
	n, err := b.ReadCloser.Read(buf)
	b.left -= int64(n)
	return n, err
}

// flipBody inverts the byte at offset at.
type flipBody struct {
	io.ReadCloser
	off, at int64
}

func (b *flipBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	if i := b.at - b.off; i >= 0 && i < int64(n) {
		buf[i] ^= 0xff
	}
	b.off += int64(n)
	return n, err
}

// ref names repo in the registry through the proxy.
func (p *faultProxy) ref(repo string) string { return p.host + "/" + repo }

func TestE2EFaultsMisbehavingRegistry(t *testing.T) {
	e2eTest(t)
	r := startRegistry(t)
	p := startFaultProxy(t, r)
	s := faultStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN head -c 3000000 /dev/urandom > /a\n" +
		"RUN head -c 2000000 /dev/urandom > /b\n"})
	s.mustKiln(t, "build", "-t", "flaky", dir)
	id := s.imageID(t, "flaky")
	for _, f := range []proxyFault{fault503, fault502, fault429, faultDrop} {
		t.Run(string(f), func(t *testing.T) {
			repo := "e2e/flaky-" + string(f)
			s.mustKiln(t, "tag", "flaky", p.ref(repo))
			// Forget where earlier pushes put the blobs, or this push would mount them from the
			// earlier repositories and send no upload for the fault to hit.
			if err := os.Remove(filepath.Join(s.root, "kiln", "blobinfo.json")); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			p.set(f)
			s.mustKiln(t, r.args("push", p.ref(repo))...)
			if n := p.count(); n == 0 {
				t.Errorf("the push met no %s fault", f)
			}
			if img := r.inspect(t, repo); img.Config != "sha256:"+id {
				t.Errorf("the registry has config %s after the push, want sha256:%s", img.Config, id)
			}
			p.set(f)
			pulled := newStore(t)
			pulled.mustKiln(t, r.args("pull", p.ref(repo))...)
			if n := p.count(); n == 0 {
				t.Errorf("the pull met no %s fault", f)
			}
			if got := pulled.imageID(t, p.ref(repo)); got != id {
				t.Errorf("pulled image id %s, want %s", got, id)
			}
			wantCleanStore(t, pulled)
		})
	}
	t.Run(string(faultFlip), func(t *testing.T) {
		repo := "e2e/flaky-flip"
		s.mustKiln(t, "tag", "flaky", r.ref(repo))
		s.mustKiln(t, r.args("push", r.ref(repo))...)
		p.set(faultFlip)
		pulled := newStore(t)
		res := pulled.kiln(t, r.args("pull", p.ref(repo))...)
		wantError(t, res, "digest", "checksum", "gzip", "flate", "corrupt")
		if ids := pulled.imagesJSON(t); len(ids) != 0 {
			t.Errorf("kiln images lists %v after a pull of corrupted blobs", ids)
		}
		wantCleanStore(t, pulled)
		p.set(faultNone)
		pulled.mustKiln(t, r.args("pull", p.ref(repo))...)
		if got := pulled.imageID(t, p.ref(repo)); got != id {
			t.Errorf("image id %s after the clean pull, want %s", got, id)
		}
		wantCleanStore(t, pulled)
	})
}

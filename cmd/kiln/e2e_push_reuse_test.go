package main

// A push of layers the registry already has sends none of their bytes: kiln records, in the store,
// which compressed blob of each layer it pushed to or pulled from which repository, and on the
// next push asks the registry for it (a HEAD in the same repository, a cross-repository mount from
// another) before presenting the layer to containers/image as that blob. A recording HTTPS proxy
// in front of the test registry counts what each push uploads.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// blobRequest is one request the recording proxy saw for /v2/NAME/blobs/.
type blobRequest struct {
	method, repo, rest, query string
	bodyBytes                 int64
	status                    int
}

// recordingProxy forwards HTTPS to the test registry and keeps every blob request.
type recordingProxy struct {
	host string
	rp   *httputil.ReverseProxy

	mu   sync.Mutex
	reqs []blobRequest
	// hide answers 404 to HEADs of these blob digests after the first one of each.
	hide map[string]int
}

// reuseSetup starts what every push-reuse test needs: a registry, a recording proxy in front of
// it, and a repository namespace of the test's own under prefix.
func reuseSetup(t *testing.T, prefix string) (*registry, *recordingProxy, string) {
	t.Helper()
	e2eTest(t)
	r := startRegistry(t)
	return r, startRecordingProxy(t, r), uniqueRepo(prefix)
}

func startRecordingProxy(t *testing.T, r *registry) *recordingProxy {
	t.Helper()
	p := &recordingProxy{hide: map[string]int{}}
	p.rp = registryReverseProxy(t, r)
	p.host = serveAsRegistry(t, r, p)
	return p
}

// countingBody counts what is read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	return n, err
}

// statusWriter keeps the status the registry answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	repo, rest, isBlob := strings.Cut(strings.TrimPrefix(req.URL.Path, "/v2/"), "/blobs/")
	if !isBlob {
		p.rp.ServeHTTP(w, req)
		return
	}
	if req.Method == http.MethodHead && p.hidden(rest) {
		w.WriteHeader(http.StatusNotFound)
		p.add(blobRequest{method: req.Method, repo: repo, rest: rest, status: http.StatusNotFound})
		return
	}
	body := &countingBody{ReadCloser: http.NoBody}
	if req.Body != nil {
		body.ReadCloser = req.Body
	}
	req.Body = body
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	p.rp.ServeHTTP(sw, req)
	p.add(blobRequest{method: req.Method, repo: repo, rest: rest, query: req.URL.RawQuery, bodyBytes: body.n, status: sw.status})
}

// hidden reports whether a HEAD of blob d is to be answered 404: every one after the first.
func (p *recordingProxy) hidden(d string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.hide[d]
	if !ok {
		return false
	}
	p.hide[d] = n + 1
	return n > 0
}

func (p *recordingProxy) add(r blobRequest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r)
}

// mark returns how many requests were seen so far, for since.
func (p *recordingProxy) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.reqs)
}

// since returns the blob requests made after mark.
func (p *recordingProxy) since(mark int) []blobRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs[mark:])
}

// uploadBytes is the request body bytes of blob uploads (POST, PATCH, PUT to blobs/uploads).
func uploadBytes(reqs []blobRequest) int64 {
	var n int64
	for _, r := range reqs {
		if strings.HasPrefix(r.rest, "uploads") && r.method != http.MethodGet && r.method != http.MethodHead {
			n += r.bodyBytes
		}
	}
	return n
}

// uploaded lists the digests of blobs whose upload was completed (PUT ...?digest=D).
func uploaded(reqs []blobRequest) []string {
	var out []string
	for _, r := range reqs {
		if r.method == http.MethodPut && strings.HasPrefix(r.rest, "uploads") {
			q, _ := url.ParseQuery(r.query)
			out = append(out, q.Get("digest"))
		}
	}
	return out
}

// mounted lists the digests mounted into repo from another repository with success.
func mounted(reqs []blobRequest, repo string) []string {
	var out []string
	for _, r := range reqs {
		if r.method == http.MethodPost && r.repo == repo && r.status == http.StatusCreated {
			if q, _ := url.ParseQuery(r.query); q.Get("mount") != "" {
				out = append(out, q.Get("mount"))
			}
		}
	}
	return out
}

func describe(reqs []blobRequest) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s %s/blobs/%s?%s -> %d, %d body bytes\n", r.method, r.repo, r.rest, r.query, r.status, r.bodyBytes)
	}
	return b.String()
}

// rawManifest is the part of a pushed manifest the tests compare.
type rawManifest struct {
	Config struct{ Digest string } `json:"config"`
	Layers []struct {
		Digest    string `json:"digest"`
		MediaType string `json:"mediaType"`
	} `json:"layers"`
}

func (r *registry) rawManifest(t *testing.T, host, repo string) rawManifest {
	t.Helper()
	out := r.skopeo(t, "inspect", "--raw", "--cert-dir", r.certDir, "--creds", r.creds(), "docker://"+host+"/"+repo)
	var m rawManifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("manifest of %s: %v\n%s", repo, err, out)
	}
	return m
}

// deleteBlob removes blob d from repo in the registry, so that a record saying it is there is wrong.
func (r *registry) deleteBlob(t *testing.T, repo, d string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: r.tlsConfig(t)}}
	req, err := http.NewRequest(http.MethodDelete, "https://"+r.host+"/v2/"+repo+"/blobs/"+d, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(r.user, r.pass)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting blob %s of %s: %s", d, repo, resp.Status)
	}
}

func uniqueRepo(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func pushDigest(t *testing.T, s store, r *registry, image, dest string) string {
	t.Helper()
	df := filepath.Join(t.TempDir(), "digest")
	s.mustKiln(t, r.args("push", "--digestfile", df, image, dest)...)
	d, err := os.ReadFile(df)
	if err != nil {
		t.Fatal(err)
	}
	return string(d)
}

func TestE2EPushReuseLayers(t *testing.T) {
	r, p, ns := reuseSetup(t, "e2e/reuse")
	const layerSize = 2 << 20
	layerTar := randomLayerTar(t, layerSize)
	s := newStore(t)
	s.mustKiln(t, "import", layerTar, "e2e-reuse")

	push := func(repo string) (string, []blobRequest) {
		t.Helper()
		m := p.mark()
		d := pushDigest(t, s, r, "e2e-reuse", "docker://"+p.host+"/"+repo)
		return d, p.since(m)
	}
	d1, reqs := push(ns + "/a:v1")
	if n := uploadBytes(reqs); n < layerSize {
		t.Fatalf("first push uploaded %d bytes, less than the %d-byte random layer:\n%s", n, layerSize, describe(reqs))
	}
	d2, reqs := push(ns + "/a:v1")
	if n := uploadBytes(reqs); n != 0 || len(uploaded(reqs)) != 0 {
		t.Errorf("second push to the same repository uploaded %d bytes (blobs %v), want none:\n%s", n, uploaded(reqs), describe(reqs))
	}
	d3, reqs := push(ns + "/b:v1")
	if n := uploadBytes(reqs); n != 0 || len(uploaded(reqs)) != 0 {
		t.Errorf("push to another repository uploaded %d bytes (blobs %v), want none:\n%s", n, uploaded(reqs), describe(reqs))
	}
	ma := r.rawManifest(t, p.host, ns+"/a:v1")
	mb := r.rawManifest(t, p.host, ns+"/b:v1")
	if len(ma.Layers) != 1 || !strings.Contains(ma.Layers[0].MediaType, "gzip") {
		t.Fatalf("pushed manifest has layers %+v, want one gzip layer", ma.Layers)
	}
	if got := mounted(reqs, ns+"/b"); !slices.Contains(got, ma.Layers[0].Digest) {
		t.Errorf("repository b got blobs %v by mount, want the layer %s:\n%s", got, ma.Layers[0].Digest, describe(reqs))
	}
	if d1 != d2 || d1 != d3 {
		t.Errorf("manifest digests of the three pushes differ: %s, %s, %s", d1, d2, d3)
	}
	if fmt.Sprint(ma) != fmt.Sprint(mb) {
		t.Errorf("manifests differ:\na: %+v\nb: %+v", ma, mb)
	}
	want := listingOf(t, layerTar)
	for _, repo := range []string{ns + "/a:v1", ns + "/b:v1"} {
		got := r.layerListings(t, repo)
		if len(got) != 1 {
			t.Fatalf("%s has %d layers, want 1", repo, len(got))
		}
		sameListing(t, repo, got[0], want)
	}
	// The pushed content is the imported content: pulled into a fresh store and exported.
	fresh := newStore(t)
	fresh.mustKiln(t, r.args("pull", r.ref(ns+"/b:v1"))...)
	exp := filepath.Join(t.TempDir(), "b.tar")
	fresh.mustKiln(t, "export", "-o", exp, r.ref(ns+"/b:v1"))
	sameListing(t, "export of "+ns+"/b:v1", listingOf(t, exp), want)

	// Only blobs in the push's compression are reused: a zstd push sends the layer, once.
	pushZstd := func(repo string) []blobRequest {
		t.Helper()
		m := p.mark()
		s.mustKiln(t, r.args("push", "--compression-format", "zstd", "e2e-reuse", "docker://"+p.host+"/"+repo)...)
		return p.since(m)
	}
	if reqs := pushZstd(ns + "/z:v1"); uploadBytes(reqs) < layerSize/2 {
		t.Errorf("zstd push with only a gzip blob recorded uploaded %d bytes, want the layer:\n%s", uploadBytes(reqs), describe(reqs))
	}
	if reqs := pushZstd(ns + "/z2:v1"); uploadBytes(reqs) != 0 {
		t.Errorf("second zstd push uploaded %d bytes, want none:\n%s", uploadBytes(reqs), describe(reqs))
	}
	if mz := r.rawManifest(t, p.host, ns+"/z2:v1"); len(mz.Layers) != 1 || !strings.Contains(mz.Layers[0].MediaType, "zstd") {
		t.Errorf("second zstd push has layers %+v, want one zstd layer", mz.Layers)
	}

	// A record that is wrong: the layer is gone from a and b. The push uploads it.
	for _, repo := range []string{ns + "/a", ns + "/b"} {
		r.deleteBlob(t, repo, ma.Layers[0].Digest)
	}
	_, reqs = push(ns + "/c:v1")
	if n := uploadBytes(reqs); n < layerSize {
		t.Errorf("push after the blob was deleted uploaded %d bytes, want the %d-byte layer:\n%s", n, layerSize, describe(reqs))
	}
	if got := r.layerListings(t, ns+"/c:v1"); len(got) != 1 {
		t.Errorf("%s/c has %d layers, want 1", ns, len(got))
	} else {
		sameListing(t, ns+"/c:v1", got[0], want)
	}
	// The record's entry for a is wrong, the one for c (just uploaded) right: a gets it from c.
	_, reqs = push(ns + "/a:v2")
	if n := uploadBytes(reqs); n != 0 || !slices.Contains(mounted(reqs, ns+"/a"), ma.Layers[0].Digest) {
		t.Errorf("push to a after the blob was deleted there uploaded %d bytes and mounted %v, want the layer mounted from c:\n%s",
			n, mounted(reqs, ns+"/a"), describe(reqs))
	}
}

// TestE2EPushReuseVanished: the registry says it has a blob when kiln checks, and no longer when
// containers/image does, so containers/image asks kiln for the blob kiln presented in place of the
// layer. The push is made again without substitutions and succeeds.
func TestE2EPushReuseVanished(t *testing.T) {
	r, p, ns := reuseSetup(t, "e2e/vanish")
	s := newStore(t)
	s.mustKiln(t, "import", randomLayerTar(t, 1<<20), "e2e-vanish")
	d1 := pushDigest(t, s, r, "e2e-vanish", "docker://"+p.host+"/"+ns+"/a:v1")
	layer := r.rawManifest(t, p.host, ns+"/a:v1").Layers[0].Digest
	p.mu.Lock()
	p.hide[layer] = 0
	p.mu.Unlock()
	m := p.mark()
	res := s.mustKiln(t, append([]string{"--log-level=debug"}, r.args("push", "e2e-vanish", "docker://"+p.host+"/"+ns+"/a:v2")...)...)
	reqs := p.since(m)
	if !strings.Contains(res.stderr, "without reusing registry blobs") {
		t.Errorf("push did not say it pushed again without substitutions:\n%s", res.stderr)
	}
	if !slices.Contains(uploaded(reqs), layer) {
		t.Errorf("push uploaded %v, want the layer %s:\n%s", uploaded(reqs), layer, describe(reqs))
	}
	if d := r.inspect(t, ns+"/a:v2").Digest; d != d1 {
		t.Errorf("manifest digest %s, want %s as before", d, d1)
	}
}

// TestE2EPushReusePulledBase: an image pulled into a fresh store and built on with one RUN step is
// pushed to another repository: only the new layer and the new config are uploaded.
func TestE2EPushReusePulledBase(t *testing.T) {
	r, p, ns := reuseSetup(t, "e2e/reusebase")
	tarPath := baseImage(t)
	s1 := newStore(t)
	s1.mustKiln(t, "import", "--change", `CMD ["sh"]`, tarPath, "e2e-reusebase")
	base := p.host + "/" + ns + "/base:v1"
	pushDigest(t, s1, r, "e2e-reusebase", "docker://"+base)

	s2 := newStore(t)
	s2.mustKiln(t, r.args("pull", base)...)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo new > /new-file\n"})
	s2.mustKiln(t, "build", "-t", "e2e-reusebase-app", dir)
	m := p.mark()
	pushDigest(t, s2, r, "e2e-reusebase-app", "docker://"+p.host+"/"+ns+"/app:v1")
	reqs := p.since(m)
	bm := r.rawManifest(t, p.host, ns+"/base:v1")
	am := r.rawManifest(t, p.host, ns+"/app:v1")
	if len(am.Layers) != len(bm.Layers)+1 {
		t.Fatalf("app has %d layers, want the base's %d and one", len(am.Layers), len(bm.Layers))
	}
	newLayer := am.Layers[len(am.Layers)-1].Digest
	got := uploaded(reqs)
	slices.Sort(got)
	want := []string{newLayer, am.Config.Digest}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("push uploaded blobs %v, want only the new layer and config %v:\n%s", got, want, describe(reqs))
	}
	for i, l := range bm.Layers {
		if am.Layers[i].Digest != l.Digest {
			t.Errorf("app layer %d is %s, want the base's %s", i, am.Layers[i].Digest, l.Digest)
		}
	}
	if got := mounted(reqs, ns+"/app"); !slices.Contains(got, bm.Layers[0].Digest) {
		t.Errorf("app got blobs %v by mount, want the base layer %s:\n%s", got, bm.Layers[0].Digest, describe(reqs))
	}
	listings := r.layerListings(t, ns+"/app:v1")
	if _, ok := listings[len(listings)-1]["new-file"]; !ok {
		t.Errorf("app's last layer lacks new-file: %v", listings[len(listings)-1])
	}
	sameListing(t, "app's base layer", listings[0], listingOf(t, tarPath))
}

// TestE2EPushReuseList: the images of a pushed manifest list are recorded too, so pushing one of
// them on its own to another repository uploads nothing.
func TestE2EPushReuseList(t *testing.T) {
	r, p, ns := reuseSetup(t, "e2e/reuselist")
	s := newStore(t)
	s.mustKiln(t, "import", randomLayerTar(t, 1<<20), "e2e-reuselist-one")
	s.mustKiln(t, "import", "--arch", "arm64", randomLayerTar(t, 1<<20), "e2e-reuselist-two")
	s.mustKiln(t, "manifest", "create", "e2e-reuselist", "e2e-reuselist-one", "e2e-reuselist-two")
	s.mustKiln(t, append(r.args("manifest", "push"), "--all", "e2e-reuselist", "docker://"+p.host+"/"+ns+"/list:v1")...)
	for _, img := range []string{"e2e-reuselist-one", "e2e-reuselist-two"} {
		m := p.mark()
		s.mustKiln(t, r.args("push", img, "docker://"+p.host+"/"+ns+"/"+img+":v1")...)
		if reqs := p.since(m); uploadBytes(reqs) != 0 || len(mounted(reqs, ns+"/"+img)) != 2 {
			t.Errorf("push of %s after the list uploaded %d bytes and mounted %v, want its layer and config mounted:\n%s",
				img, uploadBytes(reqs), mounted(reqs, ns+"/"+img), describe(reqs))
		}
	}
}

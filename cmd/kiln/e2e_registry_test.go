package main

// A real registry for the end-to-end suite: Debian's docker-registry (distribution 2.8) on
// 127.0.0.1 with TLS from a CA made here and htpasswd auth, started once per test binary by the
// first test that needs it and stopped by TestMain. It runs as the invoking user.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// registry is a running docker-registry.
type registry struct {
	host       string // 127.0.0.1:PORT
	certDir    string // holds ca.crt: kiln's and skopeo's --cert-dir
	user, pass string
	log        string // the registry's output
	cmd        *exec.Cmd
}

// tlsConfig trusts r's CA, as kiln does with --cert-dir.
func (r *registry) tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(r.certDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s/ca.crt", r.certDir)
	}
	return &tls.Config{RootCAs: pool}
}

var reg struct {
	once sync.Once
	r    *registry
	err  error
}

// startRegistry returns the suite's registry, starting it on first use.
func startRegistry(t *testing.T) *registry {
	t.Helper()
	bin := requireTool(t, "docker-registry")
	reg.once.Do(func() { reg.r, reg.err = launchRegistry(bin, filepath.Join(e2e.tmp, "registry")) })
	if reg.err != nil {
		t.Fatalf("starting the test registry: %v", reg.err)
	}
	return reg.r
}

// stopRegistry stops the registry if it was started.
func stopRegistry() {
	if reg.r == nil {
		return
	}
	_ = reg.r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = reg.r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = reg.r.cmd.Process.Kill()
		<-done
	}
}

func launchRegistry(bin, dir string) (*registry, error) {
	r := &registry{certDir: filepath.Join(dir, "certs"), user: "kiln", pass: "e2e-secret-pw", log: filepath.Join(dir, "registry.log")}
	if err := os.MkdirAll(r.certDir, 0o755); err != nil {
		return nil, err
	}
	pool, err := writeCerts(dir, r.certDir)
	if err != nil {
		return nil, fmt.Errorf("making certificates: %w", err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.pass), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.user+":"+string(hash)+"\n"), 0o600); err != nil {
		return nil, err
	}
	if r.host, err = freeAddr(); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
  secret: kiln-e2e
  tls:
    certificate: %q
    key: %q
auth:
  htpasswd:
    realm: kiln-e2e
    path: %q
`, filepath.Join(dir, "data"), r.host, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(r.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r.cmd = exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	if err := r.waitReady(pool); err != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		out, _ := os.ReadFile(r.log)
		return nil, fmt.Errorf("%w\nregistry log:\n%s", err, out)
	}
	return r, nil
}

// waitReady waits until the registry answers /v2/ with 401 without credentials and 200 with.
func (r *registry) waitReady(pool *x509.CertPool) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				return fmt.Errorf("GET /v2/ without credentials: %s, want 401", resp.Status)
			}
			req, _ := http.NewRequest("GET", "https://"+r.host+"/v2/", nil)
			req.SetBasicAuth(r.user, r.pass)
			if resp, err = client.Do(req); err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /v2/ with credentials: %s, want 200", resp.Status)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry not answering on %s: %w", r.host, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port nobody listens on, just now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// writeCerts makes a CA (certDir/ca.crt) and a server certificate for 127.0.0.1, ::1 and
// localhost signed by it (dir/server.crt, dir/server.key); it returns a pool trusting the CA.
func writeCerts(dir, certDir string) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kiln e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	files := map[string]*pem.Block{
		filepath.Join(certDir, "ca.crt"): {Type: "CERTIFICATE", Bytes: caDER},
		filepath.Join(dir, "server.crt"): {Type: "CERTIFICATE", Bytes: der},
		filepath.Join(dir, "server.key"): {Type: "EC PRIVATE KEY", Bytes: keyDER},
	}
	for path, block := range files {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// ref names repo (with its tag) on the registry.
func (r *registry) ref(repo string) string { return r.host + "/" + repo }

// creds is the --creds value that logs in.
func (r *registry) creds() string { return r.user + ":" + r.pass }

// args is a kiln command line for cmd (push, pull) with this registry's --cert-dir and --creds.
func (r *registry) args(cmd string, rest ...string) []string {
	return append([]string{cmd, "--cert-dir=" + r.certDir, "--creds=" + r.creds()}, rest...)
}

// skopeo runs skopeo against the registry and returns its standard output.
func (r *registry) skopeo(t *testing.T, args ...string) string {
	t.Helper()
	bin := requireTool(t, "skopeo")
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// remoteImage is what skopeo sees of an image in the registry.
type remoteImage struct {
	Digest string   // the manifest's digest
	Layers []string // compressed layer digests
	Config string   // the config's digest: the image id
}

// inspect reads repo's manifest from the registry with skopeo.
func (r *registry) inspect(t *testing.T, repo string) remoteImage {
	t.Helper()
	flags := []string{"--cert-dir", r.certDir, "--creds", r.creds(), "docker://" + r.ref(repo)}
	var img remoteImage
	if err := json.Unmarshal([]byte(r.skopeo(t, append([]string{"inspect"}, flags...)...)), &img); err != nil {
		t.Fatalf("skopeo inspect %s: %v", repo, err)
	}
	var raw struct {
		Config struct{ Digest string } `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.skopeo(t, append([]string{"inspect", "--raw"}, flags...)...)), &raw); err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v", repo, err)
	}
	img.Config = raw.Config.Digest
	return img
}

// layerListings copies repo from the registry to a dir: layout with skopeo and returns the
// listing of each layer's tar, bottom first.
func (r *registry) layerListings(t *testing.T, repo string) []map[string]string {
	t.Helper()
	dir := t.TempDir()
	r.skopeo(t, "--insecure-policy", "copy", "--quiet", "--src-cert-dir", r.certDir, "--src-creds", r.creds(),
		"docker://"+r.ref(repo), "dir:"+dir)
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Layers []struct{ Digest, MediaType string } `json:"layers"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("manifest of %s: %v", repo, err)
	}
	var out []map[string]string
	for _, l := range m.Layers {
		if strings.Contains(l.MediaType, "zstd") {
			t.Fatalf("layer %s is zstd; the test reads gzip and plain tar only", l.Digest)
		}
		out = append(out, listingOf(t, filepath.Join(dir, strings.TrimPrefix(l.Digest, "sha256:"))))
	}
	return out
}

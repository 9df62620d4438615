package main

// The end-to-end suite: every TestE2E* test runs the built binary named by KILN_BIN against a real
// store, a real registry (e2e_registry_test.go) and real tools (skopeo, buildah). `make test` runs
// it as the invoking user; .ci/run also runs `make e2e.test`'s binary as an unprivileged user with
// /etc/subuid ranges and as one without. Without KILN_BIN every TestE2E skips, unless
// KILN_E2E_REQUIRED=1 (CI), where nothing may skip: a missing KILN_BIN or tool fails instead.

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// e2e is the suite's state, set once by TestMain.
var e2e struct {
	bin      string // absolute path of the kiln binary under test
	skip     bool   // every TestE2E skips: KILN_BIN unset, or -short
	required bool   // KILN_E2E_REQUIRED=1: skipping is failing
	tmp      string // package temp dir: stores, fixtures, registry; removed at the end
	store    store  // the package's shared store
}

// kilnTimeout bounds one kiln invocation.
const kilnTimeout = 5 * time.Minute

// baseName is the busybox base image every test may use, imported once into e2e.store.
const baseName = "busybox"

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	e2e.bin = os.Getenv("KILN_BIN")
	e2e.required = os.Getenv("KILN_E2E_REQUIRED") == "1"
	switch {
	case e2e.bin == "" && e2e.required:
		fmt.Fprintln(os.Stderr, "e2e: KILN_E2E_REQUIRED=1 but KILN_BIN is not set (make test sets it)")
		return 1
	case e2e.bin == "":
		fmt.Println("e2e: KILN_BIN not set, skipping")
		e2e.skip = true
		return m.Run()
	case testing.Short() && !e2e.required:
		e2e.skip = true
		return m.Run()
	}
	bin, err := filepath.Abs(e2e.bin)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: KILN_BIN: %v\n", err)
		return 1
	}
	e2e.bin = bin
	if e2e.tmp, err = os.MkdirTemp("", "kiln-e2e-"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	e2e.store = store{root: filepath.Join(e2e.tmp, "store", "root"), runroot: filepath.Join(e2e.tmp, "store", "run")}
	if err := os.WriteFile(noAuthFile(), []byte(`{"auths":{}}`), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	code := m.Run()
	stopRegistry()
	if leaked := mountsUnder(e2e.tmp); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: kiln left mounts behind (unmounting them now):\n  %s\n", strings.Join(leaked, "\n  "))
		for i := len(leaked) - 1; i >= 0; i-- {
			_ = exec.Command("umount", "-l", leaked[i]).Run()
		}
		code = 1
	}
	removeTree(e2e.tmp)
	return code
}

// removeTree deletes dir. Rootless stores hold files owned by subordinate ids that only the user
// namespace can delete, so kiln unshare does it first; failures only leave a temp dir behind.
func removeTree(dir string) {
	if os.Geteuid() != 0 {
		_ = exec.Command(e2e.bin, "unshare", "rm", "-rf", dir).Run()
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: leaving %s behind: %v\n", dir, err)
	}
}

// mountsUnder lists the mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// Mount points are octal-escaped (\040 for a space); temp dirs have no such characters.
		if mp := fields[4]; mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	return found
}

// e2eTest marks t as an end-to-end test: it skips when the suite is off, and runs in parallel.
func e2eTest(t *testing.T) {
	t.Helper()
	if e2e.skip {
		t.Skip("end-to-end suite off: KILN_BIN unset (make test sets it) or -short")
	}
	t.Parallel()
}

// skipOrFail skips the test, or fails it when the suite is required to run everything.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if e2e.required {
		t.Fatalf("KILN_E2E_REQUIRED=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// requireTool returns the path of an external program the test needs.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "%s not installed (contrib/ci/install.sh installs it)", name)
	}
	return p
}

// result is what one kiln run gave.
type result struct {
	stdout, stderr string
	code           int
}

// store is one image store: --root and --runroot for kiln.
type store struct{ root, runroot string }

// newStore makes an empty store of the test's own, for tests that need to see an image arrive or
// leave without the other tests' images around. It is removed with the package temp dir.
func newStore(t *testing.T) store {
	t.Helper()
	dir, err := os.MkdirTemp(e2e.tmp, "store-")
	if err != nil {
		t.Fatal(err)
	}
	return store{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "run")}
}

// exec runs kiln on the store with stdin as standard input.
func (s store) exec(stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kilnTimeout)
	defer cancel()
	full := append([]string{"--root=" + s.root, "--runroot=" + s.runroot}, args...)
	cmd := exec.CommandContext(ctx, e2e.bin, full...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+noAuthFile())
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("kiln %s: no exit after %v\nstderr:\n%s", strings.Join(args, " "), kilnTimeout, r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("running kiln %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// noAuthFile is an empty auth file that every kiln run gets as REGISTRY_AUTH_FILE, to keep the
// user's own credentials out of the tests and the tests' out of the user's files.
func noAuthFile() string { return filepath.Join(e2e.tmp, "no-auth.json") }

// kiln runs kiln on the store and returns what it gave, whatever its exit status.
func (s store) kiln(t *testing.T, args ...string) result {
	t.Helper()
	return s.kilnStdin(t, "", args...)
}

// kilnStdin is kiln with stdin as standard input.
func (s store) kilnStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r, err := s.exec(stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kiln %s: exit %d", strings.Join(args, " "), r.code)
	return r
}

// mustKiln runs kiln on the store and fails the test unless it exits 0.
func (s store) mustKiln(t *testing.T, args ...string) result {
	t.Helper()
	r := s.kiln(t, args...)
	if r.code != 0 {
		t.Fatalf("kiln %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// kiln and mustKiln run on the package's shared store.
func kiln(t *testing.T, args ...string) result { t.Helper(); return e2e.store.kiln(t, args...) }

func mustKiln(t *testing.T, args ...string) result { t.Helper(); return e2e.store.mustKiln(t, args...) }

// inspect returns `kiln inspect NAME` parsed: the one image object of its JSON array.
func (s store) inspect(t *testing.T, name string) map[string]any {
	t.Helper()
	out := s.mustKiln(t, "inspect", name).stdout
	var imgs []map[string]any
	if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("kiln inspect %s: want a JSON array of one image (err %v):\n%s", name, err, out)
	}
	return imgs[0]
}

// field digs a value out of decoded JSON by keys matched case-insensitively (Id or ID).
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = nil
		for mk, mv := range m {
			if strings.EqualFold(mk, k) {
				v = mv
				break
			}
		}
	}
	return v
}

// jsonOf re-encodes decoded JSON for comparison (object keys come out sorted).
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// imageID returns an image's id without the "sha256:" prefix.
func (s store) imageID(t *testing.T, name string) string {
	t.Helper()
	id, _ := field(s.inspect(t, name), "Id").(string)
	if id == "" {
		t.Fatalf("kiln inspect %s: no Id", name)
	}
	return strings.TrimPrefix(id, "sha256:")
}

// wantError checks that r is a clean failure: non-zero exit, no panic or goroutine dump, and
// exactly one "Error:" line on stderr, followed by nothing but a "Hint:", containing at least one
// of anyOf (case-insensitive) if any are given. It returns that line.
func wantError(t *testing.T, r result, anyOf ...string) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit 0, want an error\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(r.stdout+r.stderr, bad) {
			t.Fatalf("output has %q:\n%s%s", bad, r.stdout, r.stderr)
		}
	}
	// Progress and warnings may come first; after the one Error: line only a Hint: may follow.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		switch {
		case strings.HasPrefix(strings.ToLower(l), "error:"):
			lines = append(lines, l)
		case len(lines) > 0 && !strings.HasPrefix(l, "Hint:"):
			t.Fatalf("error message runs over more than one line:\n%s", r.stderr)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("want exactly one Error: line on stderr, got %d:\n%s", len(lines), r.stderr)
	}
	low := strings.ToLower(lines[0])
	if len(anyOf) == 0 {
		return lines[0]
	}
	for _, w := range anyOf {
		if strings.Contains(low, strings.ToLower(w)) {
			return lines[0]
		}
	}
	t.Fatalf("error line %q names none of %q", lines[0], anyOf)
	return ""
}

// repoRoot is the kiln source tree: KILN_SRC, else two levels above this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("KILN_SRC"); dir != "" {
		return dir
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree: set KILN_SRC")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// hasSubIDs reports whether kiln can map more than one id here: root, or a user with ranges in
// both /etc/subuid and /etc/subgid.
func hasSubIDs() bool {
	if os.Geteuid() == 0 {
		return true
	}
	u, err := user.Current()
	if err != nil {
		return false
	}
	return hasRange("/etc/subuid", u) && hasRange("/etc/subgid", u)
}

func hasRange(file string, u *user.User) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) == 3 && (f[0] == u.Username || f[0] == u.Uid) && f[2] != "0" {
			return true
		}
	}
	return false
}

// base is the busybox rootfs tarball from contrib/mkbase.sh, imported once as baseName.
var base struct {
	once sync.Once
	tar  string
	err  error
}

// baseImage imports the busybox base into the package store once and returns the rootfs tarball.
// It holds files owned by uid 1000: without subordinate ids kiln keeps that owner in xattrs.
func baseImage(t *testing.T) string {
	t.Helper()
	mkbase := filepath.Join(repoRoot(t), "contrib", "mkbase.sh")
	base.once.Do(func() {
		tarPath := filepath.Join(e2e.tmp, "busybox.tar")
		if out, err := exec.Command("sh", mkbase, tarPath).CombinedOutput(); err != nil {
			base.err = fmt.Errorf("%s: %v\n%s", mkbase, err, out)
			return
		}
		r, err := e2e.store.exec("", "import", "--change", `CMD ["sh"]`, tarPath, baseName)
		if err == nil && r.code != 0 {
			err = fmt.Errorf("kiln import %s %s: exit %d\n%s", tarPath, baseName, r.code, r.stderr)
		}
		base.tar, base.err = tarPath, err
	})
	if base.err != nil {
		t.Fatalf("making the busybox base image: %v", base.err)
	}
	return base.tar
}

// file is one regular file of a rootfs built in code.
type file struct {
	name, body string
	uid        int
}

// writeRootfs writes a tarball of regular files (mode 0644, gid = uid) for import.
func writeRootfs(t *testing.T, path string, files ...file) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Uid: f.uid, Gid: f.uid,
			Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// listing maps each entry of a tar stream (gzip or not) to "type mode uid:gid size link", the
// parts a round trip must keep. The root entry is left out.
func listing(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	m := map[string]string{}
	tr := tar.NewReader(br)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(hdr.Name, "./"), "/"), "/")
		if name == "" || name == "." {
			continue
		}
		m[name] = fmt.Sprintf("%c %v %d:%d %d %s", hdr.Typeflag, hdr.FileInfo().Mode(), hdr.Uid, hdr.Gid, hdr.Size, hdr.Linkname)
	}
}

func listingOf(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return listing(t, f)
}

// sameListing fails the test with the first differences between two listings.
func sameListing(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for name, w := range want {
		if g, ok := got[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s (%s)", name, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", name, g, w))
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %s (%s)", name, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 20 {
			diffs = append(diffs[:20], "...")
		}
		t.Fatalf("%s differs from the input (%d entries vs %d):\n  %s", what, len(got), len(want), strings.Join(diffs, "\n  "))
	}
}

// sha256Hex is the hex sha256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// imagesJSON parses `kiln images --format json`: a JSON array (podman) or one object per line
// (docker); it returns the image ids found, without "sha256:".
func (s store) imagesJSON(t *testing.T) []string {
	t.Helper()
	out := strings.TrimSpace(s.mustKiln(t, "images", "--format", "json").stdout)
	if out == "" {
		return nil
	}
	var objs []map[string]any
	if err := json.Unmarshal([]byte(out), &objs); err != nil {
		objs = nil
		for _, line := range strings.Split(out, "\n") {
			var o map[string]any
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatalf("images --format json: neither a JSON array nor JSON lines: %v\n%s", err, out)
			}
			objs = append(objs, o)
		}
	}
	var ids []string
	for _, o := range objs {
		for k, v := range o {
			if s, ok := v.(string); ok && strings.EqualFold(k, "id") {
				ids = append(ids, strings.TrimPrefix(s, "sha256:"))
			}
		}
	}
	if len(ids) != len(objs) {
		t.Fatalf("images --format json: %d entries but %d ids:\n%s", len(objs), len(ids), out)
	}
	sort.Strings(ids)
	return ids
}

// hasID reports whether ids holds id or a prefix of it of 12 or more characters (docker's short
// ids).
func hasID(ids []string, id string) bool {
	for _, i := range ids {
		if len(i) >= 12 && strings.HasPrefix(id, i) {
			return true
		}
	}
	return false
}

package main

// The foundation's acceptance tests: moving images between the store, a registry and archives
// keeps every digest and every owner; image management does what docker's does; bad input gets
// one clear error; buildah shares the store.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// facts are the parts of `kiln inspect` that no transport may change.
func (s store) facts(t *testing.T, name string) string {
	t.Helper()
	img := s.inspect(t, name)
	return jsonOf(map[string]any{
		"id": field(img, "Id"), "layers": field(img, "RootFS", "Layers"), "config": field(img, "Config"),
		"os": field(img, "Os"), "architecture": field(img, "Architecture"),
	})
}

func TestE2EPushPull(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	r := startRegistry(t)
	const repo = "e2e/pushpull:v1"
	want := e2e.store.facts(t, baseName)
	id := e2e.store.imageID(t, baseName)
	mustKiln(t, "tag", baseName, r.ref(repo))
	mustKiln(t, r.args("push", r.ref(repo))...)
	pushed := r.inspect(t, repo)
	if pushed.Config != "sha256:"+id {
		t.Fatalf("registry has config %s, the local image id is %s", pushed.Config, id)
	}

	s := newStore(t)
	s.mustKiln(t, r.args("pull", r.ref(repo))...)
	if got := s.facts(t, r.ref(repo)); got != want {
		t.Fatalf("pulled image differs from the pushed one:\ngot  %s\nwant %s", got, want)
	}
	digests := jsonOf(field(s.inspect(t, r.ref(repo)), "RepoDigests"))
	if wantDigest := r.ref("e2e/pushpull@" + pushed.Digest); !strings.Contains(digests, wantDigest) {
		t.Errorf("RepoDigests after pull = %s, want %s in it", digests, wantDigest)
	}
	// The pulled image pushed again is the same manifest with the same layers.
	s.mustKiln(t, r.args("push", r.ref(repo))...)
	again := r.inspect(t, repo)
	if again.Digest != pushed.Digest || strings.Join(again.Layers, " ") != strings.Join(pushed.Layers, " ") {
		t.Fatalf("re-push changed the image: digest %s layers %v, first push digest %s layers %v",
			again.Digest, again.Layers, pushed.Digest, pushed.Layers)
	}
}

func TestE2EAuthErrors(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	r := startRegistry(t)
	bad := []string{"--cert-dir=" + r.certDir, "--creds=" + r.user + ":wrong-password"}
	for _, args := range [][]string{
		append(append([]string{"push"}, bad...), baseName, "docker://"+r.ref("e2e/denied:v1")),
		append(append([]string{"pull"}, bad...), r.ref("e2e/pushpull:v1")),
	} {
		res := kiln(t, args...)
		if res.code != 1 && res.code != 125 {
			t.Errorf("kiln %s: exit %d, want 125 or 1", args[0], res.code)
		}
		wantError(t, res, "authentication", "unauthorized")
	}
}

func TestE2ELogin(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	r := startRegistry(t)
	authfile := filepath.Join(t.TempDir(), "auth.json")
	login := []string{"login", "--authfile", authfile, "--cert-dir", r.certDir, "-u", r.user, "--password-stdin", r.host}
	push := []string{"push", "--authfile", authfile, "--cert-dir", r.certDir, baseName, "docker://" + r.ref("e2e/login:v1")}

	wantError(t, e2e.store.kilnStdin(t, "wrong-password\n", login...), "authentication", "unauthorized", "password")
	if loggedIn(t, authfile, r.host) {
		t.Fatalf("failed login left credentials for %s in %s", r.host, authfile)
	}
	if res := e2e.store.kilnStdin(t, r.pass+"\n", login...); res.code != 0 {
		t.Fatalf("kiln login: exit %d\n%s", res.code, res.stderr)
	}
	if !loggedIn(t, authfile, r.host) {
		t.Fatalf("kiln login wrote no credentials for %s to %s", r.host, authfile)
	}
	mustKiln(t, push...)
	mustKiln(t, "logout", "--authfile", authfile, r.host)
	if loggedIn(t, authfile, r.host) {
		t.Fatalf("kiln logout left credentials for %s in %s", r.host, authfile)
	}
	wantError(t, kiln(t, push...), "authentication", "unauthorized")
}

// loggedIn reports whether an auth file holds credentials for host.
func loggedIn(t *testing.T, authfile, host string) bool {
	t.Helper()
	data, err := os.ReadFile(authfile)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	var auth struct{ Auths map[string]json.RawMessage }
	if err != nil || json.Unmarshal(data, &auth) != nil {
		t.Fatalf("reading %s: %v\n%s", authfile, err, data)
	}
	_, ok := auth.Auths[host]
	return ok
}

func TestE2ESaveLoad(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	id := e2e.store.imageID(t, baseName)
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			archive := filepath.Join(t.TempDir(), "busybox.tar")
			mustKiln(t, "save", "--format", format, "-o", archive, baseName)
			if got := archiveConfigs(t, archive); strings.Join(got, " ") != id {
				t.Fatalf("%s holds configs %v, want %s", format, got, id)
			}
			s := newStore(t)
			s.mustKiln(t, "load", "-i", archive)
			if ids := s.imagesJSON(t); len(ids) != 1 || !hasID(ids, id) {
				t.Fatalf("after load the store has %v, want %s", ids, id)
			}
		})
	}
	t.Run("two images", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		mustKiln(t, "import", writeRootfs(t, filepath.Join(dir, "small.tar"), file{name: "small", body: "small\n"}), "e2e/small:v1")
		smallID := e2e.store.imageID(t, "e2e/small:v1")
		archive := filepath.Join(dir, "two.tar")
		mustKiln(t, "save", "-o", archive, baseName, "e2e/small:v1")
		want := []string{id, smallID}
		sort.Strings(want)
		if got := archiveConfigs(t, archive); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("archive holds configs %v, want %v", got, want)
		}
		s := newStore(t)
		s.mustKiln(t, "load", "-i", archive)
		if got := s.imageID(t, baseName); got != id {
			t.Errorf("loaded %s has id %s, want %s", baseName, got, id)
		}
		if got := s.imageID(t, "e2e/small:v1"); got != smallID {
			t.Errorf("loaded e2e/small:v1 has id %s, want %s", got, smallID)
		}
	})
}

// archiveConfigs returns the sorted config digests (image ids) a docker-archive or oci-archive
// holds, checking each config blob against its digest.
func archiveConfigs(t *testing.T, path string) []string {
	t.Helper()
	files := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if files[strings.TrimPrefix(hdr.Name, "./")], err = io.ReadAll(tr); err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
	}
	blob := func(digest string) []byte {
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(digest, "sha256:")]
		if !ok || "sha256:"+sha256Hex(data) != digest {
			t.Fatalf("%s: blob %s missing or corrupt", path, digest)
		}
		return data
	}
	var ids []string
	if data, ok := files["manifest.json"]; ok { // docker-archive
		var manifest []struct{ Config string }
		if err := json.Unmarshal(data, &manifest); err != nil {
			t.Fatalf("%s: manifest.json: %v", path, err)
		}
		for _, m := range manifest {
			ids = append(ids, sha256Hex(files[m.Config]))
		}
	} else { // oci-archive
		var index struct{ Manifests []struct{ Digest string } }
		if err := json.Unmarshal(files["index.json"], &index); err != nil {
			t.Fatalf("%s: neither manifest.json nor a valid index.json: %v", path, err)
		}
		for _, d := range index.Manifests {
			var m struct{ Config struct{ Digest string } }
			if err := json.Unmarshal(blob(d.Digest), &m); err != nil {
				t.Fatalf("%s: manifest %s: %v", path, d.Digest, err)
			}
			blob(m.Config.Digest)
			ids = append(ids, strings.TrimPrefix(m.Config.Digest, "sha256:"))
		}
	}
	sort.Strings(ids)
	return ids
}

func TestE2EImportExport(t *testing.T) {
	e2eTest(t)
	tarPath := baseImage(t)
	if got := strings.TrimSpace(mustKiln(t, "inspect", "--format", "{{json .Config.Cmd}}", baseName).stdout); got != `["sh"]` {
		t.Errorf("Config.Cmd after import --change 'CMD [\"sh\"]' = %s, want [\"sh\"]", got)
	}
	img := e2e.store.inspect(t, baseName)
	if gotOS, arch := field(img, "Os"), field(img, "Architecture"); gotOS != "linux" || arch != runtime.GOARCH {
		t.Errorf("imported image is %v/%v, want linux/%s", gotOS, arch, runtime.GOARCH)
	}
	data, err := os.ReadFile(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(field(img, "RootFS", "Layers")), jsonOf([]string{"sha256:" + sha256Hex(data)}); got != want {
		t.Errorf("layers after import = %s, want the tarball's digest %s", got, want)
	}
	exported := mustKiln(t, "export", baseName).stdout
	sameListing(t, "kiln export", listing(t, strings.NewReader(exported)), listingOf(t, tarPath))

	// docker import semantics: - reads the tarball from standard input.
	small := writeRootfs(t, filepath.Join(t.TempDir(), "stdin.tar"), file{name: "from-stdin", body: "hi\n"})
	smallData, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}
	if res := e2e.store.kilnStdin(t, string(smallData), "import", "-", "e2e/stdin:v1"); res.code != 0 {
		t.Fatalf("kiln import -: exit %d\n%s", res.code, res.stderr)
	}
	if got, want := jsonOf(field(e2e.store.inspect(t, "e2e/stdin:v1"), "RootFS", "Layers")), jsonOf([]string{"sha256:" + sha256Hex(smallData)}); got != want {
		t.Errorf("layers after import - = %s, want %s", got, want)
	}
}

func TestE2ERmiUntags(t *testing.T) {
	e2eTest(t)
	s := newStore(t)
	s.mustKiln(t, "import", writeRootfs(t, filepath.Join(t.TempDir(), "rmi.tar"), file{name: "rmi", body: "rmi\n"}), "e2e/rmi:a")
	id := s.imageID(t, "e2e/rmi:a")
	s.mustKiln(t, "tag", "e2e/rmi:a", "e2e/rmi:b")
	s.mustKiln(t, "rmi", "e2e/rmi:a")
	if got := s.imageID(t, "e2e/rmi:b"); got != id {
		t.Fatalf("after rmi of the other tag, e2e/rmi:b is %s, want %s", got, id)
	}
	wantError(t, s.kiln(t, "inspect", "e2e/rmi:a"), "e2e/rmi:a")
	s.mustKiln(t, "rmi", "e2e/rmi:b")
	if ids := s.imagesJSON(t); len(ids) != 0 {
		t.Fatalf("after rmi of the last tag the store still has %v", ids)
	}
	wantError(t, s.kiln(t, "inspect", id), id[:12])
}

func TestE2EPrune(t *testing.T) {
	e2eTest(t)
	dir := t.TempDir()
	s := newStore(t)
	s.mustKiln(t, "import", writeRootfs(t, filepath.Join(dir, "keep.tar"), file{name: "keep", body: "keep\n"}), "e2e/keep:v1")
	keepID := s.imageID(t, "e2e/keep:v1")
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>11)
	}
	s.mustKiln(t, "import", writeRootfs(t, filepath.Join(dir, "dangling.tar"), file{name: "big", body: string(big)}))
	ids := s.imagesJSON(t)
	if len(ids) != 2 {
		t.Fatalf("after importing a tagged and an untagged image the store has %v", ids)
	}
	danglingID := ids[0]
	if hasID(ids[:1], keepID) {
		danglingID = ids[1]
	}

	before := treeSize(s.root)
	out := s.mustKiln(t, "prune", "-f").stdout
	freed := before - treeSize(s.root)
	if !strings.Contains(out, danglingID[:12]) || strings.Contains(out, keepID[:12]) {
		t.Errorf("prune reported\n%s\nwant the dangling %s and not the tagged %s", out, danglingID[:12], keepID[:12])
	}
	if ids := s.imagesJSON(t); len(ids) != 1 || !hasID(ids, keepID) {
		t.Fatalf("after prune the store has %v, want only %s", ids, keepID)
	}
	if freed < 3<<19 {
		t.Errorf("prune freed %d bytes, want at least the dangling image's 2 MiB", freed)
	}
	if reported, ok := reportedSize(out); ok && (reported < freed/2 || reported > freed*2) {
		t.Errorf("prune reported %d bytes reclaimed, the store shrank by %d", reported, freed)
	}
}

// treeSize adds up the sizes of the regular files under dir that the caller can see.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// reportedSize finds a size such as "2.1MB" or "2 MiB" in prune's output.
func reportedSize(out string) (int64, bool) {
	m := regexp.MustCompile(`(?i)\b([0-9][0-9.]*)\s*([kmg]?)i?b\b`).FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return int64(v * map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[strings.ToLower(m[2])]), true
}

func TestE2EOwnership(t *testing.T) {
	e2eTest(t)
	want := listingOf(t, baseImage(t))
	if !strings.Contains(want["home/app"], " 1000:1000 ") || !strings.Contains(want["bin/busybox"], " 0:0 ") {
		t.Fatalf("fixture lost its owners: home/app %q, bin/busybox %q", want["home/app"], want["bin/busybox"])
	}
	r := startRegistry(t)
	const repo = "e2e/owners:v1"
	mustKiln(t, r.args("push", baseName, "docker://"+r.ref(repo))...)
	layers := r.layerListings(t, repo)
	if len(layers) != 1 {
		t.Fatalf("pushed image has %d layers, want 1", len(layers))
	}
	sameListing(t, "pushed layer", layers[0], want)

	s := newStore(t)
	s.mustKiln(t, r.args("pull", r.ref(repo))...)
	sameListing(t, "export after pull", listing(t, strings.NewReader(s.mustKiln(t, "export", r.ref(repo)).stdout)), want)
}

func TestE2EBadInput(t *testing.T) {
	e2eTest(t)
	dir := t.TempDir()
	s := newStore(t)
	rootfs := writeRootfs(t, filepath.Join(dir, "ok.tar"), file{name: "data", body: strings.Repeat("kiln ", 1<<16)})
	s.mustKiln(t, "import", rootfs, "e2e/bad:v1")
	archive := filepath.Join(dir, "archive.tar")
	s.mustKiln(t, "save", "-o", archive, "e2e/bad:v1")
	truncArchive := truncated(t, archive)
	truncRootfs := truncated(t, rootfs)
	missing := filepath.Join(dir, "missing.tar")
	closed, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	before := s.imagesJSON(t)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"uppercase tag", "UPPER:case", []string{"tag", "e2e/bad:v1", "UPPER:case"}},
		{"uppercase pull", "UPPER:case", []string{"pull", "UPPER:case"}},
		{"missing archive", missing, []string{"load", "-i", missing}},
		{"missing rootfs", missing, []string{"import", missing, "e2e/missing:v1"}},
		{"truncated archive", truncArchive, []string{"load", "-i", truncArchive}},
		{"truncated rootfs", truncRootfs, []string{"import", truncRootfs, "e2e/truncated:v1"}},
		{"unreachable pull", closed, []string{"pull", "--tls-verify=false", closed + "/e2e/none:v1"}},
		{"unreachable push", closed, []string{"push", "--tls-verify=false", "e2e/bad:v1", "docker://" + closed + "/e2e/none:v1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, s.kiln(t, c.args...), c.want)
			if after := s.imagesJSON(t); strings.Join(after, " ") != strings.Join(before, " ") {
				t.Fatalf("images changed from %v to %v", before, after)
			}
		})
	}
}

// truncated writes the first half of path next to it and returns the new file's path.
func truncated(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSuffix(path, ".tar") + "-truncated.tar"
	if err := os.WriteFile(out, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestE2EBuildahInterop(t *testing.T) {
	e2eTest(t)
	if os.Geteuid() != 0 {
		t.Skip("buildah shares kiln's store as root only; the CI root run covers it")
	}
	bin := requireTool(t, "buildah")
	baseImage(t)
	r := startRegistry(t)
	buildah := func(args ...string) string {
		t.Helper()
		full := append([]string{"--root", e2e.store.root, "--runroot", e2e.store.runroot, "--storage-driver", storeDriver(t, e2e.store.root)}, args...)
		var stderr bytes.Buffer
		// buildah leaves the store's private overlay bind mount on the host; in a mount
		// namespace of its own it cannot, and the leak check stays about kiln.
		cmd := exec.Command("unshare", append([]string{"-m", bin}, full...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	id := e2e.store.imageID(t, baseName)
	if out := buildah("images", "--no-trunc", "--format", "{{.ID}}"); !strings.Contains(out, id) {
		t.Fatalf("buildah images does not list kiln's %s (%s):\n%s", baseName, id, out)
	}
	buildah("push", "--cert-dir", r.certDir, "--creds", r.creds(), id, "docker://"+r.ref("e2e/buildah-push:v1"))
	if got := r.inspect(t, "e2e/buildah-push:v1").Config; got != "sha256:"+id {
		t.Errorf("buildah pushed config %s, want kiln's image id %s", got, id)
	}

	hello := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(hello, []byte("hello from buildah\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctr := buildah("from", "scratch")
	buildah("copy", ctr, hello, "/hello")
	buildah("config", "--cmd", "/hello", ctr)
	buildah("commit", "--rm", ctr, "localhost/e2e/scratch:v1")
	bid := strings.TrimPrefix(buildah("images", "--noheading", "--no-trunc", "--format", "{{.ID}}", "localhost/e2e/scratch:v1"), "sha256:")
	if got := e2e.store.imageID(t, "localhost/e2e/scratch:v1"); got != bid {
		t.Fatalf("kiln sees buildah's image as %s, buildah as %s", got, bid)
	}
	mustKiln(t, r.args("push", "localhost/e2e/scratch:v1", "docker://"+r.ref("e2e/scratch:v1"))...)
	if got := r.inspect(t, "e2e/scratch:v1").Config; got != "sha256:"+bid {
		t.Errorf("kiln pushed buildah's image with config %s, want %s", got, bid)
	}
	layers := r.layerListings(t, "e2e/scratch:v1")
	if len(layers) == 0 || !strings.HasPrefix(layers[len(layers)-1]["hello"], string(tar.TypeReg)) {
		t.Errorf("pushed scratch image lacks the /hello buildah copied: %v", layers)
	}
}

// storeDriver names the graph driver of a store from its <driver>-images directory.
func storeDriver(t *testing.T, root string) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(root, "*-images"))
	if len(matches) != 1 {
		t.Fatalf("cannot tell the storage driver of %s: %v", root, matches)
	}
	return strings.TrimSuffix(filepath.Base(matches[0]), "-images")
}

func TestE2ESubIDs(t *testing.T) {
	e2eTest(t)
	dir := t.TempDir()
	s := newStore(t)
	if ids := s.imagesJSON(t); len(ids) != 0 {
		t.Fatalf("new store lists %v", ids)
	}
	// Content owned by one id works for every user.
	single := writeRootfs(t, filepath.Join(dir, "single.tar"), file{name: "motd", body: "hello\n"})
	s.mustKiln(t, "import", single, "e2e/single:v1")
	sameListing(t, "export", listing(t, strings.NewReader(s.mustKiln(t, "export", "e2e/single:v1").stdout)), listingOf(t, single))
	archive := filepath.Join(dir, "archive.tar")
	s.mustKiln(t, "save", "-o", archive, "e2e/single:v1")
	s2 := newStore(t)
	s2.mustKiln(t, "load", "-i", archive)
	if got, want := s2.imageID(t, "e2e/single:v1"), s.imageID(t, "e2e/single:v1"); got != want {
		t.Fatalf("loaded id %s, saved %s", got, want)
	}
	// Content owned by several ids keeps its owners with or without subordinate ids: without
	// them the store records the other owners in xattrs.
	multi := writeRootfs(t, filepath.Join(dir, "multi.tar"), file{name: "root-file", body: "r\n"}, file{name: "app-file", body: "a\n", uid: 1000})
	s.mustKiln(t, "import", multi, "e2e/multi:v1")
	sameListing(t, "export", listing(t, strings.NewReader(s.mustKiln(t, "export", "e2e/multi:v1").stdout)), listingOf(t, multi))
}

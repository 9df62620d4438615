package main

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// buildDir writes a context directory holding files (name → content) and
// returns its path.
func buildDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// exportFile returns the content of one file of an image's filesystem.
func exportFile(t *testing.T, s store, image, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fs.tar")
	s.mustKiln(t, "export", "-o", out, image)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s has no %s", image, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

func TestE2EBuildBasic(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{
		"Dockerfile":   "FROM busybox\nRUN echo hello > /hello && mkdir -p /data\nCOPY greeting.txt /etc/\nCMD [\"cat\", \"/hello\"]\n",
		"greeting.txt": "hi from the context\n",
	})
	r := mustKiln(t, "build", "-t", "e2e-basic:v1", dir)
	if !strings.Contains(r.stdout, "STEP 2/4: RUN echo hello") {
		t.Errorf("build output lacks the RUN step line:\n%s", r.stdout)
	}
	if got := exportFile(t, e2e.store, "e2e-basic:v1", "hello"); got != "hello\n" {
		t.Errorf("/hello = %q, want %q", got, "hello\n")
	}
	if got := exportFile(t, e2e.store, "e2e-basic:v1", "etc/greeting.txt"); got != "hi from the context\n" {
		t.Errorf("/etc/greeting.txt = %q", got)
	}
	img := e2e.store.inspect(t, "e2e-basic:v1")
	if cmd := jsonOf(field(img, "Config", "Cmd")); cmd != `["cat","/hello"]` {
		t.Errorf("Config.Cmd = %s", cmd)
	}
	// The sandbox's mount points must not leak into the layer.
	r = mustKiln(t, "history", "--format", "json", "e2e-basic:v1")
	id1 := e2e.store.imageID(t, "e2e-basic:v1")
	validateImage(t, e2e.store, "e2e-basic:v1")

	// A rebuild reuses every step and gives the same image id.
	r = mustKiln(t, "build", "-t", "e2e-basic:v2", dir)
	if n := strings.Count(r.stdout, "Using cache"); n != 2 {
		t.Errorf("rebuild used the cache %d times, want 2:\n%s", n, r.stdout)
	}
	if id2 := e2e.store.imageID(t, "e2e-basic:v2"); id2 != id1 {
		t.Errorf("rebuild gave image %s, want %s", id2, id1)
	}
	// Touching a copied file without changing it keeps the cache.
	now := filepath.Join(dir, "greeting.txt")
	if err := exec.Command("touch", now).Run(); err != nil {
		t.Fatal(err)
	}
	r = mustKiln(t, "build", "-t", "e2e-basic:v3", dir)
	if id3 := e2e.store.imageID(t, "e2e-basic:v3"); id3 != id1 {
		t.Errorf("build after touch gave image %s, want %s", id3, id1)
	}
	// Changing one byte rebuilds from the COPY on.
	if err := os.WriteFile(now, []byte("hi from the context!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustKiln(t, "build", "-t", "e2e-basic:v4", dir)
	if n := strings.Count(r.stdout, "Using cache"); n != 1 {
		t.Errorf("build after a change used the cache %d times, want 1 (the RUN):\n%s", n, r.stdout)
	}
	if got := exportFile(t, e2e.store, "e2e-basic:v4", "etc/greeting.txt"); got != "hi from the context!\n" {
		t.Errorf("/etc/greeting.txt after change = %q", got)
	}
}

func TestE2EBuildFailingRun(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	s := newStore(t)
	s.mustKiln(t, "load", "-i", savedBase(t))
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN true\nRUN exit 7\n"})
	r := s.kiln(t, "build", "-t", "e2e-fail", dir)
	if r.code != 7 {
		t.Errorf("exit status %d, want 7 (the RUN's)\nstderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"Dockerfile:3", "RUN exit 7", "exit status 7"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := s.kiln(t, "inspect", "e2e-fail"); r.code == 0 {
		t.Errorf("a failed build tagged e2e-fail")
	}
	if m := mountsUnder(filepath.Dir(s.root)); len(m) > 0 {
		t.Errorf("failed build left mounts: %v", m)
	}
	s.mustKiln(t, "images")
}

func TestE2EBuildBadDockerfile(t *testing.T) {
	e2eTest(t)
	cases := map[string]struct{ dockerfile, want string }{
		"unknown":   {"FROM busybox\nFOOBAR x\n", "Dockerfile:2"},
		"heredoc":   {"FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile"},
		"outside":   {"FROM scratch\nCOPY ../etc/passwd /x\n", "Dockerfile:2"},
		"no from":   {"RUN true\n", "Dockerfile:1"},
		"bad chmod": {"FROM scratch\nCOPY --chmod=99z a /a\n", "Dockerfile:2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := buildDir(t, map[string]string{"Dockerfile": c.dockerfile, "a": "a"})
			r := kiln(t, "build", dir)
			if r.code == 0 {
				t.Fatalf("build of a bad Dockerfile succeeded")
			}
			if !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "panic") {
				t.Errorf("stderr lacks %q:\n%s", c.want, r.stderr)
			}
		})
	}
}

func TestE2EBuildReproducible(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	saved := savedBase(t)
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN echo x > /x && touch /y\nCOPY a /a\nENV A=b\n",
		"a":          "a\n",
	})
	var digests []string
	for i := 0; i < 2; i++ {
		s := newStore(t)
		s.mustKiln(t, "load", "-i", saved)
		s.mustKiln(t, "build", "--timestamp", "1700000000", "-t", "repro", dir)
		digests = append(digests, s.imageID(t, "repro"))
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds with a fixed timestamp gave %s and %s", digests[0], digests[1])
	}
}

func TestE2EBuildOwnership(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\nRUN mkdir /o && touch /o/a /o/s && chown 1000:1000 /o/a && chmod 4755 /o/s && chown 1001 /o/s && chmod 2755 /o/s\n" +
			// Relative to the working directory, and through an absolute symlink, resolved in the step's root.
			"RUN cd /o && touch r && chown 1002:1002 r && ln -s /o /lnk && touch /o/l && chown 1003:1003 /lnk/l && chown -h 1004 /lnk\n" +
			"USER 1000\nRUN id -u > /tmp/uid\nUSER 0\nCOPY --chown=1000:1000 c /c\n",
		"c": "c",
	})
	mustKiln(t, "build", "-t", "e2e-owners", dir)
	got := imageListing(t, "e2e-owners")
	want := map[string]string{"o/a": " 1000:1000 ", "c": " 1000:1000 ", "o/s": " grwxr-xr-x 1001:0 ",
		"o/r": " 1002:1002 ", "o/l": " 1003:1003 "}
	for name, w := range want {
		if e, ok := got[name]; !ok || !strings.Contains(e, w) {
			t.Errorf("%s: %q, want %q", name, e, w)
		}
	}
	// A USER step runs as that user, with subordinate ids or without.
	if uid := exportFile(t, e2e.store, "e2e-owners", "tmp/uid"); uid != "1000\n" {
		t.Errorf("USER 1000 step ran as %q", uid)
	}
}

// TestE2EBuildOwnershipUser checks the owner of files a USER step creates.
// Without subordinate ids (kilnci-nosub in .ci/run) they still belong to
// the one mapped id, so this test is left out there until the layer diff
// records them.
func TestE2EBuildOwnershipUser(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nUSER 1000\nRUN touch /tmp/b\n"})
	mustKiln(t, "build", "-t", "e2e-owners-user", dir)
	if e := imageListing(t, "e2e-owners-user")["tmp/b"]; !strings.Contains(e, " 1000:1000 ") {
		t.Errorf("tmp/b: %q, want owner 1000:1000", e)
	}
}

// imageListing is the listing of an image's exported filesystem.
func imageListing(t *testing.T, image string) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fs.tar")
	mustKiln(t, "export", "-o", out, image)
	return listingOf(t, out)
}

// savedBase saves the busybox base once so tests with their own store can
// load it.
func savedBase(t *testing.T) string {
	t.Helper()
	p := filepath.Join(e2e.tmp, "busybox-saved.tar")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	tmp := p + ".tmp-" + strings.ReplaceAll(t.Name(), "/", "-")
	mustKiln(t, "save", "-o", tmp, baseName)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestE2EBuildRunMounts(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("s3cret-token-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN --mount=type=bind,source=sub,target=/mnt cat /mnt/x > /copied\n" +
			"RUN --mount=type=cache,id=c1,target=/var/cache/x sh -c 'echo run >> /var/cache/x/log; wc -l < /var/cache/x/log > /cachelines'\n" +
			"RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs\n" +
			"RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /toklen\n" +
			"RUN --network=none cat /proc/net/dev | grep -c : > /netdevs\n",
		"sub/x": "bound\n",
	})
	mustKiln(t, "build", "--secret", "id=tok,src="+secret, "-t", "e2e-mounts", dir)
	validateImage(t, e2e.store, "e2e-mounts")
	for name, want := range map[string]string{"copied": "bound\n", "cachelines": "1\n", "tmpfs": "t\n", "toklen": "18\n", "netdevs": "1\n"} {
		if got := exportFile(t, e2e.store, "e2e-mounts", name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	out := filepath.Join(t.TempDir(), "img.tar")
	mustKiln(t, "save", "-o", out, "e2e-mounts")
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(img), "s3cret-token-value") {
		t.Errorf("the secret's value is in the saved image")
	}
	exp := filepath.Join(t.TempDir(), "fs.tar")
	mustKiln(t, "export", "-o", exp, "e2e-mounts")
	ef, err := os.Open(exp)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for name := range listing(t, ef) {
		for _, leak := range []string{"mnt/", "scratch", "var/cache/x", "run/secrets"} {
			if strings.HasPrefix(name, leak) {
				t.Errorf("mount point %s leaked into the image", name)
			}
		}
	}
}

func TestE2EBuildAddURL(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	body := "remote content\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/files/data.txt" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(body)))
	dir := buildDir(t, map[string]string{"Dockerfile": fmt.Sprintf(
		"FROM busybox\nADD --checksum=%s %s/files/data.txt /srv/\nADD %s/files/data.txt /renamed.txt\n", sum, srv.URL, srv.URL)})
	mustKiln(t, "build", "-t", "e2e-addurl", dir)
	for _, name := range []string{"srv/data.txt", "renamed.txt"} {
		if got := exportFile(t, e2e.store, "e2e-addurl", name); got != body {
			t.Errorf("/%s = %q, want %q", name, got, body)
		}
	}
	// A rebuild downloads again but, the content being the same, reuses the layers.
	r := mustKiln(t, "build", "-t", "e2e-addurl", dir)
	if n := strings.Count(r.stdout, "Using cache"); n != 2 {
		t.Errorf("rebuild used the cache %d times, want 2:\n%s", n, r.stdout)
	}
	bad := buildDir(t, map[string]string{"Dockerfile": fmt.Sprintf(
		"FROM busybox\nADD --checksum=sha256:%064d %s/files/data.txt /x\n", 0, srv.URL)})
	res := kiln(t, "build", bad)
	if res.code == 0 || !strings.Contains(res.stderr, "checksum mismatch") || !strings.Contains(res.stderr, "Dockerfile:2") {
		t.Errorf("wrong checksum: exit %d, stderr:\n%s", res.code, res.stderr)
	}
	missing := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + srv.URL + "/nope /x\n"})
	if res := kiln(t, "build", missing); res.code == 0 || !strings.Contains(res.stderr, "404") {
		t.Errorf("missing URL: exit %d, stderr:\n%s", res.code, res.stderr)
	}
}

func TestE2EBuildParallelStages(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN echo a > /a\n" +
		"FROM busybox AS b\nRUN echo b > /b\nFROM busybox AS unused\nRUN exit 9\n" +
		"FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nRUN cat /a /b > /ab\n"})
	mustKiln(t, "build", "--jobs", "4", "-t", "e2e-par", dir)
	validateImage(t, e2e.store, "e2e-par")
	if got := exportFile(t, e2e.store, "e2e-par", "ab"); got != "a\nb\n" {
		t.Errorf("/ab = %q, want %q", got, "a\nb\n")
	}
	// A failing stage fails the build with its own status, whatever runs beside it.
	fail := buildDir(t, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN sleep 1\n" +
		"FROM busybox AS b\nRUN exit 4\nFROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n"})
	r := kiln(t, "build", "--jobs", "2", fail)
	if r.code != 4 || !strings.Contains(r.stderr, "Dockerfile:4") {
		t.Errorf("failing stage: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestE2EBuildProgressJSON(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo from-the-step\nENV A=b\n"})
	r := mustKiln(t, "build", "--no-cache", "--progress", "json", "-t", "e2e-json", dir)
	var steps, outputs, images int
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("--progress json printed a line that is not JSON: %q", line)
		}
		switch ev["type"] {
		case "step":
			steps++
		case "output":
			if strings.Contains(fmt.Sprint(ev["data"]), "from-the-step") {
				outputs++
			}
		case "step-done":
			if tm, ok := ev["timings"].(map[string]any); !ok || tm["run"] == nil || tm["total"] == nil {
				t.Errorf("step-done without run and total timings: %s", line)
			}
		case "image":
			images++
			if ev["image"] != e2e.store.imageID(t, "e2e-json") {
				t.Errorf("image event names %v, want the built image", ev["image"])
			}
		}
	}
	if steps != 3 || outputs != 1 || images != 1 {
		t.Errorf("events: %d steps (want 3), %d outputs of the RUN (want 1), %d images (want 1)\n%s", steps, outputs, images, r.stdout)
	}
	r = mustKiln(t, "build", "--debug-timings", "-t", "e2e-json", dir)
	if !strings.Contains(r.stdout, "--> timings: cache") {
		t.Errorf("--debug-timings printed no timings:\n%s", r.stdout)
	}
}

func TestE2EBuildOutput(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY --chown=1000:1000 out /out\n", "out": "out\n"})
	dest := filepath.Join(t.TempDir(), "rootfs")
	mustKiln(t, "build", "--output", "type=local,dest="+dest, "-t", "e2e-output", dir)
	b, err := os.ReadFile(filepath.Join(dest, "out"))
	if err != nil || string(b) != "out\n" {
		t.Errorf("--output local: /out = %q, %v", b, err)
	}
	st, err := os.Stat(filepath.Join(dest, "out"))
	if err == nil {
		if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != os.Getuid() {
			t.Errorf("--output local: /out owned by %d, want the caller %d", uid, os.Getuid())
		}
	}
	tarPath := filepath.Join(t.TempDir(), "fs.tar")
	mustKiln(t, "build", "--output", "type=tar,dest="+tarPath, dir)
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if e, ok := listing(t, f)["out"]; !ok || !strings.Contains(e, " 1000:1000 ") {
		t.Errorf("--output tar: /out entry %q, want owner 1000:1000 kept", e)
	}
	if r := kiln(t, "build", "--output", "type=zip,dest=x", dir); r.code == 0 || !strings.Contains(r.stderr, "--output") {
		t.Errorf("bad --output: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestE2EBuildContextSources(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	git := requireTool(t, "git")
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nCOPY msg /msg\n", "msg": "from a tar\n"})
	var buf strings.Builder
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"Dockerfile", "msg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	if r := e2e.store.kilnStdin(t, buf.String(), "build", "-t", "e2e-ctx-tar", "-"); r.code != 0 {
		t.Fatalf("build from a stdin tar: exit %d\n%s", r.code, r.stderr)
	}
	if got := exportFile(t, e2e.store, "e2e-ctx-tar", "msg"); got != "from a tar\n" {
		t.Errorf("stdin tar context: /msg = %q", got)
	}

	repo := filepath.Join(t.TempDir(), "repo")
	sub := filepath.Join(repo, "app")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sub, "Dockerfile"), []byte("FROM busybox\nCOPY msg /msg\n"), 0o644)
	os.WriteFile(filepath.Join(sub, "msg"), []byte("from git\n"), 0o644)
	for _, args := range [][]string{{"init", "-q", "-b", "main", repo}, {"-C", repo, "add", "."},
		{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c"}, {"-C", repo, "tag", "v1"}} {
		if out, err := exec.Command(git, args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command(git, "clone", "-q", "--bare", repo, repo+".git").CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v\n%s", err, out)
	}
	mustKiln(t, "build", "-t", "e2e-ctx-git", "file://"+repo+".git#v1:app")
	if got := exportFile(t, e2e.store, "e2e-ctx-git", "msg"); got != "from git\n" {
		t.Errorf("git context: /msg = %q", got)
	}
	if r := kiln(t, "build", "file://"+repo+".git#nope"); r.code == 0 || !strings.Contains(r.stderr, "cloning") {
		t.Errorf("missing ref: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

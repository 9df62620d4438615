package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// imageFiles lists an image's filesystem as listing does.
func imageFiles(t *testing.T, s store, image string) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fs.tar")
	s.mustKiln(t, "export", "-o", out, image)
	return listingOf(t, out)
}

// checkFiles fails t for each name of want absent from (true) or present in (false) files.
func checkFiles(t *testing.T, what string, files map[string]string, want map[string]bool) {
	t.Helper()
	for name, present := range want {
		if _, ok := files[name]; ok != present {
			t.Errorf("%s: /%s present = %v, want %v", what, name, ok, present)
		}
	}
}

func TestE2EBuildCopyExcludeParents(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"COPY --exclude=*.md docs /docs/\n" +
			"COPY --exclude=*.md --exclude=a top* /tops/\n" +
			"COPY --parents a/b/c.txt /p1/\n" +
			"COPY --parents a/*/*.md /p2/\n" +
			"COPY --parents --exclude=*.md --exclude=b/*.md a /p3/\n" +
			"COPY --link top.txt /link/\n" +
			"COPY --parents ./a/./b/c.txt /p4/\n",
		"docs/x.md": "x\n", "docs/y.txt": "y\n", "docs/sub/z.md": "z\n",
		"top.md": "t\n", "top.txt": "t\n",
		"a/e.txt": "e\n", "a/b/c.txt": "c\n", "a/b/d.md": "d\n",
	})
	mustKiln(t, "build", "-t", "e2e-copy-opts", dir)
	validateImage(t, e2e.store, "e2e-copy-opts")
	files := imageFiles(t, e2e.store, "e2e-copy-opts")
	checkFiles(t, "COPY --exclude/--parents", files, map[string]bool{
		"docs/y.txt": true, "docs/x.md": false, "docs/sub/z.md": true,
		"tops/top.txt": true, "tops/top.md": false,
		"p1/a/b/c.txt": true, "p1/c.txt": false,
		"p2/a/b/d.md": true, "p2/a/b/c.txt": false,
		"p3/a/e.txt": true, "p3/a/b/c.txt": true, "p3/a/b/d.md": false,
		"link/top.txt": true,
		"p4/b/c.txt":   true, "p4/a": false,
	})
	for name, want := range map[string]string{"p1/a": "5 drwxr-xr-x 0:0", "p1/a/b/c.txt": "0 -rw-r--r-- 0:0 2",
		"link/top.txt": "0 -rw-r--r-- 0:0 2", "link": "5 drwxr-xr-x 0:0"} {
		if got := files[name]; !strings.HasPrefix(got, want) {
			t.Errorf("/%s: %q, want %q", name, got, want)
		}
	}
	// A rebuild reuses every step, and so does a change to an excluded file only.
	if n := strings.Count(mustKiln(t, "build", "-t", "e2e-copy-opts", dir).stdout, "Using cache"); n != 7 {
		t.Errorf("rebuild used the cache %d times, want 7", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "docs", "x.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(mustKiln(t, "build", "-t", "e2e-copy-opts", dir).stdout, "Using cache"); n != 7 {
		t.Errorf("rebuild after changing an excluded file used the cache %d times, want 7", n)
	}
	if err := os.WriteFile(filepath.Join(dir, "docs", "y.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(mustKiln(t, "build", "-t", "e2e-copy-opts", dir).stdout, "Using cache"); n != 0 {
		t.Errorf("rebuild after changing a copied file used the cache %d times, want 0", n)
	}
}

// gitRepo makes a bare repository holding files, tagged v1, and returns its file:// URL.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	git := requireTool(t, "git")
	repo := buildDir(t, files)
	for _, args := range [][]string{{"init", "-q", "-b", "main", repo}, {"-C", repo, "add", "."},
		{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c"}, {"-C", repo, "tag", "v1"}} {
		if out, err := exec.Command(git, args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	bare := filepath.Join(t.TempDir(), "repo.git")
	if out, err := exec.Command(git, "clone", "-q", "--bare", repo, bare).CombinedOutput(); err != nil {
		t.Fatalf("git clone --bare: %v\n%s", err, out)
	}
	return "file://" + bare
}

func TestE2EBuildAddGit(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	url := gitRepo(t, map[string]string{"f.txt": "from git\n", "sub/g.txt": "g\n"})
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"ADD " + url + "#v1 /src/\n" +
		"ADD --keep-git-dir=true " + url + " /withgit\n" +
		"ADD " + url + "#v1:sub /sub/\n"})
	mustKiln(t, "build", "-t", "e2e-add-git", dir)
	validateImage(t, e2e.store, "e2e-add-git")
	files := imageFiles(t, e2e.store, "e2e-add-git")
	checkFiles(t, "ADD git", files, map[string]bool{
		"src/f.txt": true, "src/sub/g.txt": true, "src/.git": false,
		"withgit/f.txt": true, "withgit/.git/HEAD": true,
		"sub/g.txt": true, "sub/f.txt": false,
	})
	if got := exportFile(t, e2e.store, "e2e-add-git", "src/f.txt"); got != "from git\n" {
		t.Errorf("/src/f.txt = %q", got)
	}
	if got := files["src/f.txt"]; !strings.HasPrefix(got, "0 -rw-r--r-- 0:0") {
		t.Errorf("/src/f.txt: %q, want a root-owned 0644 file", got)
	}
	if n := strings.Count(mustKiln(t, "build", "-t", "e2e-add-git", dir).stdout, "Using cache"); n != 3 {
		t.Errorf("rebuild used the cache %d times, want 3", n)
	}
	bad := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nADD " + url + "#nope /x/\n"})
	if r := kiln(t, "build", bad); r.code == 0 || !strings.Contains(r.stderr, "cloning") || !strings.Contains(r.stderr, "Dockerfile:2") {
		t.Errorf("missing ref: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// TestE2EBuildCopyTrees copies one tree to a new directory, a new directory inside an image
// directory, an existing directory, a new directory behind an image symlink, and with --chown and
// --chmod. The contents of directories a COPY makes go straight into the overlay's upper
// directory, the others through the mount: both must give the same files, owners, modes, times.
func TestE2EBuildCopyTrees(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{
		"Dockerfile": "FROM busybox\n" +
			"RUN mkdir -p /opt/real /keep && ln -s /opt/real /lnk && echo old > /keep/old.txt\n" +
			"COPY tree /new/\n" +
			"COPY tree /etc/newdir/\n" +
			"COPY tree /keep/\n" +
			"COPY tree /lnk/sub/\n" +
			"COPY --chown=1000:1000 --chmod=640 tree /owned/\n" +
			"COPY tree/a/f1 /new/a/again\n",
		"tree/a/f1": "f1\n", "tree/a/b/f2": "f2\n", "tree/c": "c\n",
	})
	tree := filepath.Join(dir, "tree")
	if err := os.Symlink("f1", filepath.Join(tree, "a", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(tree, "c"), 0o755); err != nil {
		t.Fatal(err)
	}
	stamp := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(tree, "a", "f1"), stamp, stamp); err != nil {
		t.Fatal(err)
	}
	mustKiln(t, "build", "-t", "e2e-copy-trees", dir)
	validateImage(t, e2e.store, "e2e-copy-trees")
	files := imageFiles(t, e2e.store, "e2e-copy-trees")
	want := map[string]string{"keep/old.txt": "0 -rw-r--r-- 0:0 4 ", "lnk": "2 Lrwxrwxrwx 0:0 0 /opt/real",
		"new/a/again": "0 -rw-r--r-- 0:0 3 "}
	for _, d := range []string{"new", "etc/newdir", "keep", "opt/real/sub"} {
		want[d+"/a"] = "5 drwxr-xr-x 0:0 0 "
		want[d+"/a/b"] = "5 drwxr-xr-x 0:0 0 "
		want[d+"/a/f1"] = "0 -rw-r--r-- 0:0 3 "
		want[d+"/a/b/f2"] = "0 -rw-r--r-- 0:0 3 "
		want[d+"/a/link"] = "2 Lrwxrwxrwx 0:0 0 f1"
		want[d+"/c"] = "0 -rwxr-xr-x 0:0 2 "
	}
	want["owned/a/f1"] = "0 -rw-r----- 1000:1000 3 "
	want["owned/a/b/f2"] = "0 -rw-r----- 1000:1000 3 "
	want["owned/c"] = "0 -rw-r----- 1000:1000 2 "
	for name, w := range want {
		if got := files[name]; got != w {
			t.Errorf("/%s: %q, want %q", name, got, w)
		}
	}
	out := mustKiln(t, "run", "--rm", "e2e-copy-trees", "sh", "-c",
		"cat /new/a/f1 /etc/newdir/a/b/f2 /keep/c /opt/real/sub/a/link /owned/a/b/f2 /new/a/again; stat -c %Y /new/a/f1 /etc/newdir/a/f1 /keep/a/f1").stdout
	if want := "f1\nf2\nc\nf1\nf2\nf1\n978307200\n978307200\n978307200\n"; out != want {
		t.Errorf("files in the image:\n%s\nwant:\n%s", out, want)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

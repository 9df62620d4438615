package main

// A layer damaged in the store is refused on the way out: `kiln push` and `kiln save` stop with an
// error naming the layer and the file, the registry gets no manifest, the archive is not written,
// and `kiln system check` reports the damage. The store keeps each layer's tar-split, whose CRC of
// every file is checked as the layer is read back; containers/image then checks the blob digest.

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestE2ECorruptLayerPush(t *testing.T) {
	e2eTest(t)
	r := startRegistry(t)
	damages := []struct{ name, script string }{
		// Four bytes overwritten: the size stays, only the CRC can tell.
		{"same-size", `printf XXXX | dd of="$1" bs=1 seek=1000 conv=notrunc 2>/dev/null`},
		{"appended", `echo damage >> "$1"`},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			s := faultStore(t)
			// The manifest GET must see a clean push, or its 404 below would prove nothing.
			clean := "e2e/corrupt:clean-" + d.name
			s.mustKiln(t, r.args("push", baseName, r.ref(clean))...)
			if code := manifestStatus(t, r, clean); code != http.StatusOK {
				t.Fatalf("GET of the manifest of %s after a clean push: HTTP %d, want 200", clean, code)
			}
			dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN head -c 1048576 /dev/urandom > /data\n"})
			s.mustKiln(t, "build", "-t", "corrupt", dir)
			diffIDs, _ := field(s.inspect(t, "corrupt"), "RootFS", "Layers").([]any)
			if len(diffIDs) != 2 {
				t.Fatalf("the image has layers %v, want busybox's and one more", diffIDs)
			}
			layerID, file := damageLayerFile(t, s, "data", d.script)
			names := []string{layerID, diffIDs[1].(string)}

			repo := "e2e/corrupt:" + d.name
			res := s.kiln(t, r.args("push", "corrupt", r.ref(repo))...)
			wantDamageError(t, "push", res, names, "data")
			if code := manifestStatus(t, r, repo); code != http.StatusNotFound {
				t.Errorf("GET of the manifest of %s after the refused push: HTTP %d, want 404", repo, code)
			}

			out := filepath.Join(t.TempDir(), "out.tar")
			res = s.kiln(t, "save", "-o", out, "corrupt")
			wantDamageError(t, "save", res, names, "data")
			if _, err := os.Lstat(out); err == nil {
				t.Errorf("kiln save left %s behind after the refusal", out)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".kiln-save-*")); len(left) > 0 {
				t.Errorf("kiln save left temporary files: %q", left)
			}

			for _, dir := range []string{s.root, s.runroot} {
				if m := mountsUnder(dir); len(m) > 0 {
					t.Errorf("mounts left behind: %q", m)
				}
			}
			if procs := processesUsing(s.root); len(procs) > 0 {
				t.Errorf("processes left behind: %q", procs)
			}
			check := s.kiln(t, "system", "check")
			if check.code != 1 || !strings.Contains(check.stdout, layerID) || !strings.Contains(check.stdout, "data") {
				t.Errorf("kiln system check on %s: exit %d, want 1 naming layer %s and data\n%s%s",
					file, check.code, layerID, check.stdout, check.stderr)
			}
		})
	}
}

// damageLayerFile runs script on the file name of the store's layers (there must be exactly one)
// and returns that layer's id and the file's path.
func damageLayerFile(t *testing.T, s store, name, script string) (layerID, path string) {
	t.Helper()
	var found []string
	for _, pattern := range []string{"overlay/*/diff/" + name, "vfs/dir/*/" + name} {
		m, _ := filepath.Glob(filepath.Join(s.root, pattern))
		found = append(found, m...)
	}
	if len(found) != 1 {
		t.Fatalf("layers of %s holding %s: %q, want one", s.root, name, found)
	}
	path = found[0]
	layerDir := filepath.Dir(path) // vfs/dir/ID
	if filepath.Base(layerDir) == "diff" {
		layerDir = filepath.Dir(layerDir) // overlay/ID/diff
	}
	// Rootless, the layer's files belong to the user namespace's root: damage them from there.
	cmd := exec.Command("sh", "-c", script, "sh", path)
	if os.Geteuid() != 0 {
		cmd = exec.Command(e2e.bin, "unshare", "sh", "-c", script, "sh", path)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("damaging %s: %v\n%s", path, err, out)
	}
	return filepath.Base(layerDir), path
}

// wantDamageError checks that kiln refused with exit 125 and named the layer (by id or diff id)
// and the file.
func wantDamageError(t *testing.T, what string, r result, layerNames []string, file string) {
	t.Helper()
	t.Logf("kiln %s said:\n%s", what, r.stderr)
	if r.code != 125 {
		t.Errorf("kiln %s of an image with a damaged layer: exit %d, want 125\n%s", what, r.code, r.stderr)
		return
	}
	named := false
	for _, n := range layerNames {
		named = named || strings.Contains(r.stderr, strings.TrimPrefix(n, "sha256:"))
	}
	if !named || !strings.Contains(r.stderr, file) {
		t.Errorf("kiln %s: the error names neither the layer (%q) nor the file %s:\n%s", what, layerNames, file, r.stderr)
	}
}

// manifestStatus is the registry's HTTP status for a GET of repo's manifest (repo is NAME:TAG).
func manifestStatus(t *testing.T, r *registry, repo string) int {
	t.Helper()
	name, tag, _ := strings.Cut(repo, ":")
	req, err := http.NewRequest(http.MethodGet, "https://"+r.host+"/v2/"+name+"/manifests/"+tag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(r.user, r.pass)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: r.tlsConfig(t)}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET of the manifest of %s: %v", repo, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

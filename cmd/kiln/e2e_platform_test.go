package main

// Cross-architecture builds through QEMU binfmt_misc and multi-platform manifest lists. The arm64
// base is Debian's busybox-static:arm64 (contrib/mkbase.sh OUT arm64); the host's busybox base and
// it are put together as the local manifest list platformBase, so one Dockerfile builds for both.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// platformBase is the local manifest list of the host and arm64 busybox images.
const platformBase = "busybox-multi"

// unameOf is what uname -m prints on each GOARCH.
var unameOf = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "arm": "armv7l", "riscv64": "riscv64",
	"s390x": "s390x", "ppc64le": "ppc64le"}

var armBase struct {
	once sync.Once
	tar  string
	err  error
}

// platformStore makes a store of the test's own holding busybox (host), busybox-arm64 and the
// manifest list platformBase of both.
func platformStore(t *testing.T) store {
	t.Helper()
	if runtime.GOARCH == "arm64" {
		t.Skip("the foreign architecture of these tests is arm64: run them on another host")
	}
	host := baseImage(t)
	armBase.once.Do(func() {
		armBase.tar = filepath.Join(e2e.tmp, "busybox-arm64.tar")
		mkbase := filepath.Join(repoRoot(t), "contrib", "mkbase.sh")
		if out, err := exec.Command("sh", mkbase, armBase.tar, "arm64").CombinedOutput(); err != nil {
			armBase.err = fmt.Errorf("%s %s arm64: %v\n%s", mkbase, armBase.tar, err, out)
		}
	})
	if armBase.err != nil {
		skipOrFail(t, "making the arm64 busybox base (needs busybox-static:arm64 from apt): %v", armBase.err)
	}
	s := newStore(t)
	s.mustKiln(t, "import", "--change", `CMD ["sh"]`, host, baseName)
	s.mustKiln(t, "import", "--platform", "linux/arm64", "--change", `CMD ["sh"]`, armBase.tar, "busybox-arm64")
	s.mustKiln(t, "manifest", "create", platformBase, baseName, "busybox-arm64")
	return s
}

// kilnEnv runs kiln on s with extra environment variables.
func (s store) kilnEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kilnTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.bin, append([]string{"--root=" + s.root, "--runroot=" + s.runroot}, args...)...)
	cmd.Env = append(append(os.Environ(), "REGISTRY_AUTH_FILE="+noAuthFile()), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running kiln %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("kiln %s (%s): exit %d", strings.Join(args, " "), strings.Join(env, " "), r.code)
	return r
}

// requireEmulator fails (or skips outside CI) unless the host runs arm64 binaries through QEMU.
func requireEmulator(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil {
		skipOrFail(t, "no qemu-aarch64 binfmt_misc entry (contrib/ci/binfmt.sh registers it): %v", err)
	}
}

const unameDockerfile = "FROM " + platformBase + "\nRUN uname -m > /arch\n"

// TestE2EPlatformCrossRun: a RUN of an arm64 build runs under QEMU and the image says arm64; the
// same Dockerfile for the host's platform runs natively.
func TestE2EPlatformCrossRun(t *testing.T) {
	e2eTest(t)
	requireEmulator(t)
	s := platformStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": unameDockerfile})
	s.mustKiln(t, "build", "--platform", "linux/arm64", "-t", "cross-arm", dir)
	if got := strings.TrimSpace(exportFile(t, s, "cross-arm", "arch")); got != "aarch64" {
		t.Errorf("arm64 build: uname -m = %q, want aarch64", got)
	}
	in := s.inspect(t, "cross-arm")
	if arch, os := field(in, "Architecture"), field(in, "Os"); arch != "arm64" || os != "linux" {
		t.Errorf("arm64 build: config says %v/%v, want linux/arm64", os, arch)
	}
	host := "linux/" + runtime.GOARCH
	s.mustKiln(t, "build", "--platform", host, "-t", "cross-host", dir)
	if got := strings.TrimSpace(exportFile(t, s, "cross-host", "arch")); got != unameOf[runtime.GOARCH] {
		t.Errorf("%s build: uname -m = %q, want %q", host, got, unameOf[runtime.GOARCH])
	}
	if arch := field(s.inspect(t, "cross-host"), "Architecture"); arch != runtime.GOARCH {
		t.Errorf("%s build: config says %v", host, arch)
	}
	// The platform is part of the cache key: the arm64 rebuild reuses the arm64 steps only.
	r := s.mustKiln(t, "build", "--platform", "linux/arm64", "-t", "cross-arm2", dir)
	if !strings.Contains(r.stdout, "Using cache") {
		t.Errorf("arm64 rebuild did not use the cache:\n%s", r.stdout)
	}
	if a, b := s.imageID(t, "cross-arm"), s.imageID(t, "cross-arm2"); a != b {
		t.Errorf("arm64 rebuild gave %s, first build %s", b, a)
	}
}

// TestE2EPlatformManifestPush: one build for two platforms makes a manifest list; manifest push
// --all puts it and both images in a registry, where skopeo resolves each platform.
func TestE2EPlatformManifestPush(t *testing.T) {
	e2eTest(t)
	requireEmulator(t)
	s := platformStore(t)
	reg := startRegistry(t)
	dir := buildDir(t, map[string]string{"Dockerfile": unameDockerfile})
	s.mustKiln(t, "build", "--platform", "linux/amd64,linux/arm64", "--manifest", "app", dir)
	var idx struct {
		Manifests []struct {
			Digest   string
			Platform struct{ OS, Architecture string }
		}
	}
	raw := s.mustKiln(t, "manifest", "inspect", "app").stdout
	if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("manifest inspect app: want 2 entries (err %v):\n%s", err, raw)
	}
	dest := "docker://" + reg.ref("app:multi")
	s.mustKiln(t, append(reg.args("manifest", "push"), "--all", "app", dest)...)
	flags := []string{"--cert-dir", reg.certDir, "--creds", reg.creds()}
	raw = reg.skopeo(t, append(append([]string{"inspect", "--raw"}, flags...), dest)...)
	idx.Manifests = nil
	if err := json.Unmarshal([]byte(raw), &idx); err != nil {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
	}
	var plats []string
	for _, m := range idx.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("pushed index has platforms %v, want linux/amd64 and linux/arm64:\n%s", plats, raw)
	}
	for _, arch := range []string{"arm64", "amd64"} {
		var img struct{ Architecture, Os string }
		out := reg.skopeo(t, append(append([]string{"--override-arch", arch, "--override-os", "linux", "inspect"}, flags...), dest)...)
		if err := json.Unmarshal([]byte(out), &img); err != nil || img.Architecture != arch {
			t.Errorf("skopeo inspect --override-arch %s: got %q (err %v)", arch, img.Architecture, err)
		}
	}
	// pull --platform picks the arm64 image out of the pushed list.
	other := newStore(t)
	other.mustKiln(t, append(reg.args("pull"), "--platform", "linux/arm64", reg.ref("app:multi"))...)
	if arch := field(other.inspect(t, reg.ref("app:multi")), "Architecture"); arch != "arm64" {
		t.Errorf("pull --platform linux/arm64 gave a %v image", arch)
	}
}

// TestE2EPlatformCrossCompile: a FROM --platform=$BUILDPLATFORM stage runs natively and hands its
// output to the arm64 stage, which has no RUN: the build needs no emulator at all, shown by a
// binfmt_misc without any entry.
func TestE2EPlatformCrossCompile(t *testing.T) {
	e2eTest(t)
	s := platformStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": `FROM --platform=$BUILDPLATFORM ` + platformBase + ` AS build
ARG TARGETARCH
ARG BUILDARCH
RUN echo "$TARGETARCH" > /out && uname -m > /ran-on && echo "$BUILDARCH" > /build-arch
FROM ` + platformBase + `
COPY --from=build /out /ran-on /build-arch /
`})
	r := s.kilnEnv(t, []string{"KILN_BINFMT_DIR=" + fakeBinfmt(t, "")}, "build", "--platform", "linux/arm64", "-t", "xc", dir)
	if r.code != 0 {
		t.Fatalf("cross-compile build: exit %d\n%s", r.code, r.stderr)
	}
	for name, want := range map[string]string{"out": "arm64", "ran-on": unameOf[runtime.GOARCH], "build-arch": runtime.GOARCH} {
		if got := strings.TrimSpace(exportFile(t, s, "xc", name)); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	if arch := field(s.inspect(t, "xc"), "Architecture"); arch != "arm64" {
		t.Errorf("final stage config says %v, want arm64", arch)
	}
}

// fakeBinfmt writes a binfmt_misc look-alike holding status "enabled" and, if entry is set, a
// qemu-aarch64 entry with those flags; the directory goes to kiln as KILN_BINFMT_DIR.
func fakeBinfmt(t *testing.T, flags string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"status": "enabled\n", "register": ""}
	if flags != "" {
		files["qemu-aarch64"] = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: " + flags +
			"\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestE2EPlatformNoEmulator: without a binfmt_misc entry for arm64, or with one lacking the F
// flag, the build stops at the first RUN with one clear error and leaves no image behind.
func TestE2EPlatformNoEmulator(t *testing.T) {
	e2eTest(t)
	s := platformStore(t)
	before := s.imagesJSON(t)
	dir := buildDir(t, map[string]string{"Dockerfile": unameDockerfile})
	for _, c := range []struct{ flags, want string }{{"", "qemu-user-static"}, {"P", "F flag"}} {
		r := s.kilnEnv(t, []string{"KILN_BINFMT_DIR=" + fakeBinfmt(t, c.flags)}, "build", "--platform", "linux/arm64", "-t", "noemu", dir)
		line := wantError(t, r, c.want)
		for _, w := range []string{"arm64", "kiln binfmt --install", "RUN"} {
			if !strings.Contains(line, w) {
				t.Errorf("error %q does not mention %q", line, w)
			}
		}
		if strings.Contains(r.stderr, "exec format error") {
			t.Errorf("error is the kernel's exec format error:\n%s", r.stderr)
		}
	}
	if after := s.imagesJSON(t); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("failed builds left images: before %v, after %v", before, after)
	}
}

// TestE2EPlatformMissing: a platform the base does not offer is an error naming the base and the
// platforms it has, for a manifest list and for a single image.
func TestE2EPlatformMissing(t *testing.T) {
	e2eTest(t)
	s := platformStore(t)
	for _, c := range []struct{ base, want string }{
		{platformBase, "linux/amd64, linux/arm64"}, {"busybox-arm64", "linux/arm64"},
	} {
		dir := buildDir(t, map[string]string{"Dockerfile": "FROM " + c.base + "\nRUN true\n"})
		line := wantError(t, s.kiln(t, "build", "--platform", "linux/s390x", dir), c.base)
		if !strings.Contains(line, c.want) || !strings.Contains(line, "linux/s390x") {
			t.Errorf("error %q should name linux/s390x and the platforms %s offers (%s)", line, c.base, c.want)
		}
	}
}

// TestE2EPlatformManifestCommands: create, add, annotate, inspect, remove and rm on a list.
func TestE2EPlatformManifestCommands(t *testing.T) {
	e2eTest(t)
	s := platformStore(t)
	s.mustKiln(t, "manifest", "create", "ml")
	s.mustKiln(t, "manifest", "add", "ml", "busybox-arm64")
	s.mustKiln(t, "manifest", "add", "--annotation", "k=v", "ml", baseName)
	s.mustKiln(t, "manifest", "annotate", "--variant", "v8", "ml", "busybox-arm64")
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
			Platform    struct{ Architecture, Variant string }
		}
	}
	raw := s.mustKiln(t, "manifest", "inspect", "ml").stdout
	if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("manifest inspect: want 2 entries (err %v):\n%s", err, raw)
	}
	for _, m := range idx.Manifests {
		if m.Platform.Architecture == "arm64" && m.Platform.Variant != "v8" {
			t.Errorf("annotate --variant v8 not recorded:\n%s", raw)
		}
		if m.Platform.Architecture == runtime.GOARCH && m.Annotations["k"] != "v" {
			t.Errorf("add --annotation k=v not recorded:\n%s", raw)
		}
	}
	// kiln inspect of a list shows the list.
	if out := s.mustKiln(t, "inspect", "ml").stdout; !strings.Contains(out, idx.Manifests[0].Digest) {
		t.Errorf("kiln inspect ml does not show the list:\n%s", out)
	}
	s.mustKiln(t, "manifest", "remove", "ml", idx.Manifests[0].Digest)
	s.mustKiln(t, "manifest", "rm", "ml")
	if r := s.kiln(t, "manifest", "exists", "ml"); r.code != 1 {
		t.Errorf("manifest exists after rm: exit %d", r.code)
	}
	s.mustKiln(t, "inspect", "busybox-arm64") // rm keeps the images
}

// TestE2EPlatformBinfmt: kiln binfmt reports the registered emulators (CI registers aarch64, arm
// and riscv64 with the F flag) and fails for one a fake binfmt_misc lacks.
func TestE2EPlatformBinfmt(t *testing.T) {
	e2eTest(t)
	requireEmulator(t)
	s := newStore(t)
	r := s.mustKiln(t, "binfmt", "arm64", "arm", "riscv64")
	if strings.Count(r.stdout, " ok") != 3 {
		t.Errorf("kiln binfmt arm64 arm riscv64: want three ok lines:\n%s", r.stdout)
	}
	r = s.kilnEnv(t, []string{"KILN_BINFMT_DIR=" + fakeBinfmt(t, "")}, "binfmt", "arm64")
	wantError(t, r, "qemu-user-static")
}

// TestE2EPlatformPruneKeepsListed: the untagged images of a multi-platform build stay through
// kiln prune while their list references them, and images show their platform.
func TestE2EPlatformPruneKeepsListed(t *testing.T) {
	e2eTest(t)
	s := platformStore(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM " + platformBase + "\nLABEL x=1\n"})
	s.mustKiln(t, "build", "--platform", "linux/amd64,linux/arm64", "-t", "labelled", dir)
	s.mustKiln(t, "prune", "-f")
	r := s.mustKiln(t, "build", "--platform", "linux/arm64", "--pull=never", "-t", "again", dir)
	if !strings.Contains(r.stdout, "Using cache") && !strings.Contains(r.stdout, "STEP 2/2") {
		t.Errorf("rebuild output:\n%s", r.stdout)
	}
	out := s.mustKiln(t, "images", "--format", "{{.Repository}} {{.Platform}}").stdout
	for _, want := range []string{"localhost/labelled manifest list", "localhost/again linux/arm64", "localhost/busybox-arm64 linux/arm64"} {
		if !strings.Contains(out, want) {
			t.Errorf("kiln images does not show %q:\n%s", want, out)
		}
	}
	raw := s.mustKiln(t, "manifest", "inspect", "labelled").stdout
	var idx struct{ Manifests []struct{ Digest string } }
	if err := json.Unmarshal([]byte(raw), &idx); err != nil || len(idx.Manifests) != 2 {
		t.Fatalf("manifest inspect labelled: %v\n%s", err, raw)
	}
	for _, m := range idx.Manifests {
		if !strings.Contains(s.mustKiln(t, "images", "-a", "--digests", "--no-trunc").stdout, m.Digest) {
			t.Errorf("prune removed the listed image %s", m.Digest)
		}
	}
}

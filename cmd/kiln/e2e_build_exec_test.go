package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EBuildSSHMount(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n" +
		"RUN --mount=type=ssh,id=other,target=/tmp/agent test -S /tmp/agent && echo ok > /other\n" +
		"RUN --mount=type=ssh,id=absent echo \"skipped${SSH_AUTH_SOCK}\" > /optional\n",
		"notasocket": "x\n"})
	mustKiln(t, "build", "--ssh", "default="+sock, "--ssh", "other="+sock, "-t", "e2e-ssh", dir)
	validateImage(t, e2e.store, "e2e-ssh")
	for name, want := range map[string]string{"sock": "/run/buildkit/ssh_agent.0\n", "other": "ok\n", "optional": "skipped\n"} {
		if got := exportFile(t, e2e.store, "e2e-ssh", name); got != want {
			t.Errorf("/%s = %q, want %q", name, got, want)
		}
	}
	files := imageFiles(t, e2e.store, "e2e-ssh")
	checkFiles(t, "ssh mount points", files, map[string]bool{"run/buildkit": false, "tmp/agent": false})
	// SSH_AUTH_SOCK names the default agent when --ssh default has no socket.
	cmd := exec.Command(e2e.bin, "--root="+e2e.store.root, "--runroot="+e2e.store.runroot,
		"build", "--ssh", "default", "--ssh", "other="+sock, "--no-cache", "-t", "e2e-ssh2", dir)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock, "REGISTRY_AUTH_FILE="+noAuthFile())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("--ssh default from SSH_AUTH_SOCK: %v\n%s", err, out)
	}

	req := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN --mount=type=ssh,id=deploy,required=true true\n"})
	if r := kiln(t, "build", req); r.code == 0 || !strings.Contains(r.stderr, "--ssh deploy=SOCKET") || !strings.Contains(r.stderr, "Dockerfile:2") {
		t.Errorf("required ssh mount without --ssh: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := kiln(t, "build", "--ssh", "default="+filepath.Join(dir, "notasocket"), dir); r.code == 0 || !strings.Contains(r.stderr, "not an ssh-agent socket") {
		t.Errorf("--ssh with a file: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func TestE2EBuildSquashAll(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo a > /a\nRUN echo b > /b && rm /a\n"})
	mustKiln(t, "build", "--squash-all", "-t", "e2e-squash-all", dir)
	validateImage(t, e2e.store, "e2e-squash-all")
	img := e2e.store.inspect(t, "e2e-squash-all")
	layers, _ := field(img, "RootFS", "Layers").([]any)
	if len(layers) != 1 {
		t.Errorf("--squash-all: %d layers, want 1: %s", len(layers), jsonOf(layers))
	}
	files := imageFiles(t, e2e.store, "e2e-squash-all")
	checkFiles(t, "--squash-all", files, map[string]bool{"bin/busybox": true, "b": true, "a": false})
	r := mustKiln(t, "history", "--format", "json", "e2e-squash-all")
	if !strings.Contains(r.stdout, "kiln build --squash-all") {
		t.Errorf("history lacks the squash entry:\n%s", r.stdout)
	}
	if r := kiln(t, "build", "--squash-all", "--squash", dir); r.code == 0 {
		t.Errorf("--squash with --squash-all: exit 0")
	}
}

func TestE2EBuildPullNewer(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	reg := startRegistry(t)
	ref := reg.ref("e2e/newer:v1")
	push := func(v string) {
		dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo " + v + " > /v\n"})
		mustKiln(t, "build", "-t", ref, dir)
		mustKiln(t, reg.args("push", ref)...)
	}
	push("one")
	s := newStore(t)
	s.mustKiln(t, reg.args("pull", ref)...)
	push("two")
	testPullNewer(t, s, reg, ref)
}

// testPullNewer builds on ref in s, which holds the first of two pushed versions.
func testPullNewer(t *testing.T, s store, reg *registry, ref string) {
	t.Helper()
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM " + ref + "\nRUN cat /v > /seen\n"})
	s.mustKiln(t, reg.args("build", "-t", "missing", dir)...)
	if got := exportFile(t, s, "missing", "seen"); got != "one\n" {
		t.Errorf("--pull=missing: base has %q, want the local one", got)
	}
	s.mustKiln(t, reg.args("build", "--pull=newer", "-t", "newer", dir)...)
	validateImage(t, s, "newer")
	if got := exportFile(t, s, "newer", "seen"); got != "two\n" {
		t.Errorf("--pull=newer: base has %q, want the registry's newer one", got)
	}
	gone := "127.0.0.1:1/e2e/newer:v1"
	s.mustKiln(t, "tag", ref, gone)
	off := buildDir(t, map[string]string{"Dockerfile": "FROM " + gone + "\nRUN cat /v > /seen\n"})
	r := s.mustKiln(t, "build", "--pull=newer", "-t", "offline", off)
	if !strings.Contains(r.stdout+r.stderr, "keeping the local") {
		t.Errorf("--pull=newer with an unreachable registry gave no notice:\n%s\n%s", r.stdout, r.stderr)
	}
	if got := exportFile(t, s, "offline", "seen"); got != "two\n" {
		t.Errorf("--pull=newer offline: base has %q, want the local one", got)
	}
}

// fakeRuntime writes an OCI runtime stand-in that checks the bundle, saves its config.json and
// arguments in dir, prints a line and exits with code.
func fakeRuntime(t *testing.T, dir string, code int) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("fake-runtime-%d", code))
	script := fmt.Sprintf(`#!/bin/sh
echo "$@" > %[1]s/args
while [ $# -gt 0 ]; do [ "$1" = --bundle ] && bundle=$2; shift; done
cfg=$bundle/config.json
test -f "$cfg" || exit 90
cp "$cfg" %[1]s/config.json
root=$(sed -n '/"root"/,/}/s/.*"path": *"\([^"]*\)".*/\1/p' "$cfg")
test -x "$root/bin/busybox" || exit 91
echo "fake runtime ran"
exit %[2]d
`, dir, code)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestE2EBuildRuntime(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo marker-123\n"})
	work := t.TempDir()
	r := mustKiln(t, "build", "--no-cache", "--isolation", "oci", "--runtime", fakeRuntime(t, work, 0), dir)
	if !strings.Contains(r.stdout, "fake runtime ran") {
		t.Errorf("the runtime's output is not in the build's:\n%s", r.stdout)
	}
	args, err := os.ReadFile(filepath.Join(work, "args"))
	if err != nil {
		t.Fatalf("the runtime did not run: %v", err)
	}
	if f := strings.Fields(string(args)); len(f) != 6 || f[0] != "--root" || f[2] != "run" || f[3] != "--bundle" {
		t.Errorf("runtime arguments %q, want --root STATE run --bundle DIR ID", args)
	}
	var spec struct {
		Process struct {
			Args []string `json:"args"`
			Cwd  string   `json:"cwd"`
		} `json:"process"`
		Root struct {
			Path string `json:"path"`
		} `json:"root"`
	}
	b, err := os.ReadFile(filepath.Join(work, "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		t.Fatalf("bundle config: %v", err)
	}
	if got := strings.Join(spec.Process.Args, " "); !strings.Contains(got, "echo marker-123") || spec.Process.Cwd != "/" || !filepath.IsAbs(spec.Root.Path) {
		t.Errorf("bundle config: args %q cwd %q root %q", got, spec.Process.Cwd, spec.Root.Path)
	}
	r = kiln(t, "build", "--no-cache", "--runtime", fakeRuntime(t, work, 7), dir)
	if r.code != 7 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, "exit status 7") {
		t.Errorf("runtime exiting 7: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	mustKiln(t, "build", "--no-cache", "--isolation", "chroot", dir)
	if r := kiln(t, "build", "--isolation", "vm", dir); r.code == 0 || !strings.Contains(r.stderr, "--isolation") {
		t.Errorf("--isolation vm: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

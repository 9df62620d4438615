package main

// End-to-end tests of the step sandbox's hardening: the default seccomp profile and
// --security-opt, the default capability set and --cap-add/--cap-drop, and what a step can see
// of the builder and the kernel.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// defaultCaps is the CapEff/CapBnd mask of the default set: CHOWN, DAC_OVERRIDE, FOWNER, FSETID,
// KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT and SETFCAP.
const defaultCaps = "00000000800405fb"

func TestE2ESandboxSeccomp(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	probe := "FROM busybox\nRUN grep Seccomp: /proc/self/status | tr -d ' \\t' > /seccomp; " +
		"if unshare -U true; then echo allowed; else echo blocked; fi > /unshare\n"
	dir := buildDir(t, map[string]string{"Dockerfile": probe})
	mustKiln(t, "build", "-t", "e2e-seccomp-default", dir)
	if got := exportFile(t, e2e.store, "e2e-seccomp-default", "seccomp"); got != "Seccomp:2\n" {
		t.Errorf("default: /proc/self/status has %q, want Seccomp:2 (filter)", got)
	}
	if got := exportFile(t, e2e.store, "e2e-seccomp-default", "unshare"); got != "blocked\n" {
		t.Errorf("default: unshare -U was %q, want blocked", got)
	}

	// Like docker, the step cache does not key on security options.
	mustKiln(t, "build", "--no-cache", "--security-opt", "seccomp=unconfined", "-t", "e2e-seccomp-unconfined", dir)
	if got := exportFile(t, e2e.store, "e2e-seccomp-unconfined", "unshare"); got != "allowed\n" {
		t.Errorf("unconfined: unshare -U was %q, want allowed", got)
	}
	if !hasSubIDs() {
		// Single-id mode always filters chown, to record owners.
		return
	}
	if got := exportFile(t, e2e.store, "e2e-seccomp-unconfined", "seccomp"); got != "Seccomp:0\n" {
		t.Errorf("unconfined: /proc/self/status has %q, want Seccomp:0", got)
	}
}

func TestE2ESandboxSeccompProfile(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	profile := filepath.Join(t.TempDir(), "profile.json")
	body := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`
	if err := os.WriteFile(profile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN touch /ok\nRUN mkdir /denied\n"})
	r := kiln(t, "build", "--security-opt", "seccomp="+profile, "-t", "e2e-seccomp-profile", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("mkdir under a profile denying it with EACCES: exit %d\n%s", r.code, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"defaultAction":`), 0o644); err != nil {
		t.Fatal(err)
	}
	wantError(t, kiln(t, "build", "--security-opt", "seccomp="+bad, dir), "seccomp")
	wantError(t, kiln(t, "build", "--security-opt", "apparmor=x", dir), "security-opt")
}

func TestE2ESandboxCapabilities(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN grep -E '^Cap(Eff|Bnd):' /proc/self/status | tr -d ' \\t' > /caps\n" +
		"USER 1000\nRUN grep -E '^Cap(Eff|Bnd):' /proc/self/status | tr -d ' \\t' > /tmp/usercaps\n"})
	mustKiln(t, "build", "-t", "e2e-caps", dir)
	if got, want := exportFile(t, e2e.store, "e2e-caps", "caps"), "CapEff:"+defaultCaps+"\nCapBnd:"+defaultCaps+"\n"; got != want {
		t.Errorf("root step capabilities:\n%s\nwant:\n%s", got, want)
	}
	if got, want := exportFile(t, e2e.store, "e2e-caps", "tmp/usercaps"), "CapEff:0000000000000000\nCapBnd:"+defaultCaps+"\n"; got != want {
		t.Errorf("USER 1000 step capabilities:\n%s\nwant:\n%s", got, want)
	}

	chown := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN touch /tmp/f && chown 1:1 /tmp/f\n"})
	mustKiln(t, "build", "-t", "e2e-caps-chown", chown)
	r := kiln(t, "build", "--no-cache", "--cap-drop=CHOWN", "-t", "e2e-caps-nochown", chown)
	if r.code == 0 {
		t.Errorf("chown with --cap-drop=CHOWN succeeded")
	}
	mustKiln(t, "build", "--no-cache", "--cap-drop", "all", "--cap-add", "cap_chown", "-t", "e2e-caps-onlychown", chown)
	wantError(t, kiln(t, "build", "--cap-add", "NOT_A_CAP", chown), "capability")
}

func TestE2ESandboxIsolation(t *testing.T) {
	e2eTest(t)
	baseImage(t)
	dir := buildDir(t, map[string]string{"Dockerfile": "FROM busybox\n" +
		// pid 1 is the step's own shell: the builder's environment is out of reach.
		"RUN tr '\\0' '\\n' < /proc/1/environ > /environ; ls /proc | grep -c '^[0-9]' > /pids\n" +
		"RUN for f in /proc/kcore /proc/keys /proc/timer_list; do [ ! -e $f ] || cat $f; done | wc -c > /masked\n" +
		"RUN if echo 1 > /proc/sys/kernel/ns_last_pid; then echo rw; else echo ro; fi > /procsys; " +
		"grep -q ' /proc/sys ro,' /proc/self/mountinfo && echo ro >> /procsys\n"})
	mustKiln(t, "build", "-t", "e2e-isolation", dir)
	if env := exportFile(t, e2e.store, "e2e-isolation", "environ"); strings.Contains(env, "REGISTRY_AUTH_FILE") {
		t.Errorf("a step read the builder's environment:\n%s", env)
	}
	if got := strings.TrimSpace(exportFile(t, e2e.store, "e2e-isolation", "pids")); got != "3" && got != "2" {
		t.Errorf("a step sees %s processes, want its own 2 or 3", got)
	}
	if got := exportFile(t, e2e.store, "e2e-isolation", "masked"); strings.TrimSpace(got) != "0" {
		t.Errorf("masked /proc files gave %s bytes, want 0", got)
	}
	if got := exportFile(t, e2e.store, "e2e-isolation", "procsys"); got != "ro\nro\n" {
		t.Errorf("/proc/sys: %q, want read-only", got)
	}
}

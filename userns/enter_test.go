package userns

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The tests here build testdata/enterprobe, which calls Enter and reports
// what it sees, and run it as the caller and, as root, as two system users.

const (
	subUser   = "kilntest-sub"   // has the ranges below
	noSubUser = "kilntest-nosub" // has none
	subStart  = "200000"
	subCount  = "65536"
)

// probe is a built enterprobe in a directory every user can read.
type probe struct{ path string }

// buildProbe builds the probe, or uses the one $KILN_ENTERPROBE names: a
// compiled test binary run as a user without a Go toolchain needs that.
func buildProbe(t *testing.T) probe {
	t.Helper()
	if path := os.Getenv("KILN_ENTERPROBE"); path != "" {
		return probe{path}
	}
	if testing.Short() {
		t.Skip("builds and runs a helper binary")
	}
	dir, err := os.MkdirTemp("", "kiln-enterprobe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "enterprobe")
	cmd := exec.Command("go", "build", "-o", path, "./testdata/enterprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building enterprobe: %v\n%s", err, out)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return probe{path}
}

// report is the probe's output: the values of each key, in order.
type report map[string][]string

func (r report) get(k string) string { return strings.Join(r[k], "\n") }

func parseReport(out []byte) report {
	r := report{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			r[k] = append(r[k], v)
		}
	}
	return r
}

// command returns the probe as a command of user ("" for the caller),
// with a clean environment.
func (p probe) command(user string, args ...string) *exec.Cmd {
	argv := append([]string{p.path}, args...)
	if user != "" {
		argv = append([]string{"runuser", "-u", user, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = filepath.Dir(p.path)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=/tmp"}
	return cmd
}

// run runs the probe and returns its report, stderr and exit code.
func (p probe) run(t *testing.T, user string, args ...string) (report, string, int) {
	t.Helper()
	cmd := p.command(user, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	t.Logf("%v: exit %d\n%s%s", cmd.Args, cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	return parseReport(stdout.Bytes()), stderr.String(), cmd.ProcessState.ExitCode()
}

// TestEnterAsCaller runs the probe as whoever runs the tests: root stays
// in the initial namespace; anyone else ends up uid 0 in the mode Detect
// chose.
func TestEnterAsCaller(t *testing.T) {
	p := buildProbe(t)
	want, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	r, stderr, code := p.run(t, "")
	if code != 0 {
		t.Fatalf("probe exited %d: %s", code, stderr)
	}
	if r.get("uid") != "0" || r.get("mode") != want.String() {
		t.Errorf("probe reports uid %q mode %q, want 0 and %v", r.get("uid"), r.get("mode"), want)
	}
	if os.Geteuid() == 0 {
		if r.get("env _CONTAINERS_USERNS_CONFIGURED") != "" || stderr != "" {
			t.Errorf("root was re-executed: %v, stderr %q", r, stderr)
		}
		return
	}
	wantLines := map[Mode]int{ModeSingle: 1, ModeSubIDs: 2}[want]
	if len(r["uid_map"]) < wantLines || want == ModeSingle && len(r["uid_map"]) != 1 {
		t.Errorf("uid_map = %q in mode %v", r["uid_map"], want)
	}
}

// requireUsers creates, or reuses, the two test users, or skips.
func requireUsers(t *testing.T) (sub, noSub *user.User) {
	t.Helper()
	if os.Getenv("KILN_TEST_USERS") != "1" && os.Getenv("CI") != "true" {
		t.Skip("set KILN_TEST_USERS=1 (as root) to create the users " + subUser + " and " + noSubUser + " and test the rootless path as them")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("KILN_E2E_REQUIRED") == "1" {
			t.Fatal("creating test users needs root")
		}
		t.Skip("creating test users needs root")
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		fd, err := os.OpenFile(f, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fd.Close()
	}
	sub, noSub = ensureUser(t, subUser), ensureUser(t, noSubUser)
	end, _ := strconv.Atoi(subStart)
	n, _ := strconv.Atoi(subCount)
	rng := subStart + "-" + strconv.Itoa(end+n-1)
	mustRun(t, "usermod", "--add-subuids", rng, "--add-subgids", rng, subUser)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		want := []Range{{Start: uint32(end), Length: uint32(n)}}
		if got, err := readSubIDs(f, subUser, -1); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s ranges of %s = %v, %v; want only %v", f, subUser, got, err, want)
		}
		if got, err := readSubIDs(f, noSubUser, -1); err != nil || len(got) != 0 {
			t.Fatalf("%s ranges of %s = %v, %v; want none", f, noSubUser, got, err)
		}
	}
	return sub, noSub
}

func ensureUser(t *testing.T, name string) *user.User {
	t.Helper()
	if u, err := user.Lookup(name); err == nil {
		return u
	}
	cmd := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name)
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() != 9 { // 9: exists
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustRun(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, out)
	}
}

func TestEnterUsers(t *testing.T) {
	sub, noSub := requireUsers(t)
	p := buildProbe(t)
	tests := []struct {
		user              *user.User
		mode              string
		uidMap, gidMap    []string
		chown, chownError string
		warning           string
	}{{
		user: sub, mode: "subids",
		uidMap: []string{"0 " + sub.Uid + " 1", "1 " + subStart + " " + subCount},
		gidMap: []string{"0 " + sub.Gid + " 1", "1 " + subStart + " " + subCount},
		chown:  "1000:1000",
	}, {
		user: noSub, mode: "single",
		uidMap:     []string{"0 " + noSub.Uid + " 1"},
		gidMap:     []string{"0 " + noSub.Gid + " 1"},
		chownError: "invalid argument", // 1000 is not mapped
		warning:    "kiln: warning: no /etc/subuid range for " + noSubUser + "; running with a single-id mapping, other owners are recorded in layer metadata only\n",
	}}
	for _, tt := range tests {
		t.Run(tt.user.Username, func(t *testing.T) {
			t.Parallel()
			r, stderr, code := p.run(t, tt.user.Username, "chown")
			if code != 0 || stderr != tt.warning {
				t.Fatalf("probe exited %d with stderr %q, want 0 and %q", code, stderr, tt.warning)
			}
			for k, want := range map[string]string{
				"uid": "0", "gid": "0", "mode": tt.mode,
				"propagating_mounts":                "0",
				"chown":                             tt.chown,
				"env _CONTAINERS_USERNS_CONFIGURED": "done",
				"env _CONTAINERS_ROOTLESS_UID":      tt.user.Uid,
				"env _CONTAINERS_ROOTLESS_GID":      tt.user.Gid,
				"env _KILN_USERNS_SYNC_FD":          "",
				"env _KILN_USERNS_CHILD":            "",
			} {
				if got := r.get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !hasBuilderCaps(r.get("capeff")) {
				t.Errorf("capeff = %q, want at least %x", r.get("capeff"), builderCaps)
			}
			if !reflect.DeepEqual(r["uid_map"], tt.uidMap) || !reflect.DeepEqual(r["gid_map"], tt.gidMap) {
				t.Errorf("uid_map %q gid_map %q, want %q and %q", r["uid_map"], r["gid_map"], tt.uidMap, tt.gidMap)
			}
			if !strings.Contains(r.get("chown_error"), tt.chownError) {
				t.Errorf("chown_error = %q, want %q", r.get("chown_error"), tt.chownError)
			}
		})
	}
	t.Run("exit status", func(t *testing.T) {
		t.Parallel()
		if _, _, code := p.run(t, subUser, "exit", "7"); code != 7 {
			t.Errorf("exit status %d, want 7", code)
		}
		if _, _, code := p.run(t, noSubUser, "kill"); code != 128+9 {
			t.Errorf("exit status of a child killed by SIGKILL %d, want 137", code)
		}
	})
	t.Run("signal forwarding", func(t *testing.T) {
		t.Parallel()
		testSignalForwarding(t, p)
	})
	t.Run("parent death", func(t *testing.T) {
		t.Parallel()
		testParentDeath(t, p)
	})
}

// builderCaps are the capabilities kiln needs inside the namespace:
// CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_SETGID, CAP_SETUID and
// CAP_SYS_ADMIN.
const builderCaps = 1<<0 | 1<<1 | 1<<3 | 1<<6 | 1<<7 | 1<<21

// hasBuilderCaps reports whether a CapEff value of /proc/PID/status holds
// builderCaps.
func hasBuilderCaps(capEff string) bool {
	v, err := strconv.ParseUint(capEff, 16, 64)
	return err == nil && v&builderCaps == builderCaps
}

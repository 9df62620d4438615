package container

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func ptr(s string) *string { return &s }

func TestCommand(t *testing.T) {
	t.Parallel()
	cfg := &storage.Config{Entrypoint: []string{"/ep"}, Cmd: []string{"--default"}}
	noEP := &storage.Config{Cmd: []string{"sh"}}
	for _, tc := range []struct {
		name string
		cfg  *storage.Config
		ep   *string
		args []string
		want []string
	}{
		{"image", cfg, nil, nil, []string{"/ep", "--default"}},
		{"args replace cmd", cfg, nil, []string{"-x"}, []string{"/ep", "-x"}},
		{"entrypoint drops cmd", cfg, ptr("/other"), nil, []string{"/other"}},
		{"entrypoint with args", cfg, ptr("/other"), []string{"a"}, []string{"/other", "a"}},
		{"empty entrypoint", cfg, ptr(""), []string{"ls"}, []string{"ls"}},
		{"cmd only", noEP, nil, nil, []string{"sh"}},
		{"args only", noEP, nil, []string{"id", "-u"}, []string{"id", "-u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Command(tc.cfg, tc.ep, tc.args)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("Command = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := Command(&storage.Config{}, nil, nil); err == nil {
		t.Error("Command of an image with nothing to run gave no error")
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("KILN_TEST_FROM_HOST", "host-value")
	o := &RunOptions{TTY: true, Env: []string{"A=2", "B=x=y", "KILN_TEST_FROM_HOST", "KILN_TEST_UNSET_VAR"}}
	got := Env([]string{"PATH=/bin", "A=1"}, o, "/root")
	want := []string{"PATH=/bin", "TERM=xterm", "HOME=/root", "A=2", "B=x=y", "KILN_TEST_FROM_HOST=host-value"}
	if !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	got = Env(nil, &RunOptions{}, "")
	if !slices.Contains(got, "HOME=/") || !slices.ContainsFunc(got, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Errorf("Env of an empty image = %q, want PATH and HOME=/", got)
	}
}

func TestVolumeMounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := volumeMounts([]string{dir + ":/data", dir + ":/ro:ro"})
	if err != nil || len(good) != 2 || good[0].Source != dir || good[0].Destination != "/data" ||
		!slices.Contains(good[1].Options, "ro") || slices.Contains(good[0].Options, "ro") {
		t.Fatalf("volumeMounts = %+v, %v", good, err)
	}
	for _, bad := range []string{"named:/data", dir, dir + ":rel", dir + ":/x:bogus", filepath.Join(dir, "missing") + ":/x", ":/x"} {
		if _, err := volumeMounts([]string{bad}); err == nil {
			t.Errorf("volumeMounts(%q) gave no error", bad)
		}
	}
}

func TestStopSignal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]syscall.Signal{"": syscall.SIGTERM, "SIGQUIT": syscall.SIGQUIT, "int": syscall.SIGINT,
		"9": syscall.SIGKILL, "SIGBOGUS": syscall.SIGTERM, "USR1": syscall.SIGUSR1} {
		if got := stopSignal(in); got != want {
			t.Errorf("stopSignal(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestStateCurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := &State{ID: "x", Name: "x", Status: StatusCreated}
	if err := s.markSupervisor(); err != nil {
		t.Fatal(err)
	}
	s.Status = StatusRunning
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadState(dir)
	if err != nil || !back.Running() {
		t.Fatalf("a state supervised by this live process reads back as %+v, %v", back, err)
	}
	back.SupervisorStart = "1"
	if cur := back.Current(); cur.Status != StatusExited || cur.ExitCode != -1 {
		t.Errorf("a state whose supervisor is gone is %+v, want exited with code -1", cur)
	}
	if _, err := ReadState(filepath.Join(dir, "none")); !os.IsNotExist(err) && err == nil {
		t.Errorf("ReadState of a missing directory: %v", err)
	}
}

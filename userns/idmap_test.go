package userns

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOwnIDOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		maps []specs.LinuxIDMapping
		id   int
		want bool
	}{
		{"own id", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}, 1000, true},
		{"own id to another container id", []specs.LinuxIDMapping{{ContainerID: 5, HostID: 1000, Size: 1}}, 1000, true},
		{"other id", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1001, Size: 1}}, 1000, false},
		{"range", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2}}, 1000, false},
		{"two maps", []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 1}}, 1000, false},
		{"none", nil, 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ownIDOnly(tt.maps, tt.id); got != tt.want {
				t.Errorf("ownIDOnly(%v, %d) = %t, want %t", tt.maps, tt.id, got, tt.want)
			}
		})
	}
}

func TestLookupHelperMissing(t *testing.T) {
	t.Setenv("PATH", "")
	_, err := lookupHelper("newuidmap", []string{t.TempDir()})
	if !errors.Is(err, ErrNoNewuidmap) {
		t.Fatalf("lookupHelper() error = %v, want one wrapping ErrNoNewuidmap", err)
	}
	if !strings.Contains(err.Error(), "newuidmap") {
		t.Errorf("error %q does not name the helper", err)
	}
}

func TestLookupHelperDirs(t *testing.T) {
	t.Setenv("PATH", "")
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/newgidmap", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := lookupHelper("newgidmap", []string{"/nonexistent", dir})
	if err != nil || got != dir+"/newgidmap" {
		t.Fatalf("lookupHelper() = %q, %v; want %q", got, err, dir+"/newgidmap")
	}
}

// startUnmapped starts a process in a new user namespace without mappings.
func startUnmapped(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting a process in a new user namespace: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd.Process.Pid
}

func TestWriteMappingsOwnID(t *testing.T) {
	t.Parallel()
	pid := startUnmapped(t)
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	err := WriteMappings(pid, Mappings(uid, nil), Mappings(gid, nil))
	if err != nil {
		t.Fatalf("WriteMappings() error = %v", err)
	}
	proc := "/proc/" + strconv.Itoa(pid) + "/"
	for file, want := range map[string]string{
		"setgroups": "deny",
		"uid_map":   "0 " + strconv.Itoa(int(uid)) + " 1",
		"gid_map":   "0 " + strconv.Itoa(int(gid)) + " 1",
	} {
		data, err := os.ReadFile(proc + file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(strings.Fields(string(data)), " "); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

// TestWriteMappingsHelperError maps a range nobody owns: newuidmap must
// refuse, and the error must show the command line and the helper's words.
func TestWriteMappingsHelperError(t *testing.T) {
	t.Parallel()
	pid := startUnmapped(t)
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	nobodys := []Range{{Start: 4000000000, Length: 10}}
	err := WriteMappings(pid, Mappings(uid, nobodys), Mappings(gid, nobodys))
	if err == nil {
		t.Fatal("WriteMappings() of a range nobody owns succeeded")
	}
	if _, lerr := lookupHelper("newuidmap", helperDirs); lerr != nil {
		if !errors.Is(err, ErrNoNewuidmap) {
			t.Fatalf("WriteMappings() error = %v, want ErrNoNewuidmap as newuidmap is missing", err)
		}
		return
	}
	want := "newuidmap " + strconv.Itoa(pid) + " 0 " + strconv.Itoa(int(uid)) + " 1 1 4000000000 10: exit status 1: newuidmap: "
	if !strings.Contains(err.Error(), want) {
		t.Errorf("WriteMappings() error = %q, want it to contain %q", err, want)
	}
}

func TestWriteMappingsNone(t *testing.T) {
	t.Parallel()
	if err := WriteMappings(1, nil, Mappings(0, nil)); err == nil {
		t.Error("WriteMappings() without uid mappings succeeded")
	}
}

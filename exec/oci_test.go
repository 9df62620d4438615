package exec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestWriteBundle(t *testing.T) {
	t.Parallel()
	notify := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"chown"}, Action: specs.ActNotify}, {Names: []string{"read"}, Action: specs.ActAllow}}}
	for _, tc := range []struct {
		name    string
		spec    specs.Spec
		wantErr bool
	}{
		{name: "plain", spec: specs.Spec{Root: &specs.Root{Path: "/rootfs"}, Process: &specs.Process{Args: []string{"sh", "-c", "true"}, Cwd: "/"}}},
		{name: "notify", spec: specs.Spec{Root: &specs.Root{Path: "/rootfs"}, Process: &specs.Process{Args: []string{"true"}},
			Linux: &specs.Linux{Seccomp: notify}}},
		{name: "relative root", spec: specs.Spec{Root: &specs.Root{Path: "rootfs"}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			err := WriteBundle(dir, &tc.spec)
			if (err != nil) != tc.wantErr {
				t.Fatalf("WriteBundle: %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			b, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got specs.Spec
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Version != specs.Version || got.Root.Path != tc.spec.Root.Path || len(got.Process.Args) != len(tc.spec.Process.Args) {
				t.Errorf("config.json = %s", b)
			}
			if got.Linux != nil && got.Linux.Seccomp != nil {
				if hasNotify(got.Linux.Seccomp) {
					t.Errorf("config.json keeps a notify rule: %s", b)
				}
				if tc.spec.Linux.Seccomp.Syscalls[0].Action != specs.ActNotify {
					t.Errorf("WriteBundle changed the caller's spec")
				}
			}
		})
	}
}

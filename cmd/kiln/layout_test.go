package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayout checks the import graph the design rests on: only storage/
// touches containers/storage and containers/image, only cmd/ touches the
// CLI libraries, and dependencies point one way (cmd → build → the rest).
func TestLayout(t *testing.T) {
	if testing.Short() {
		t.Skip("go list over the module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		skipOrFail(t, "go toolchain not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-tags", "containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper,exclude_graphdriver_zfs",
		"-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/kiln-build/kiln/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/kiln-build/kiln/"
	// lower lists, for each package, the module packages it must not import.
	forbidden := map[string][]string{
		"storage": {"build", "exec", "overlay", "userns", "cmd"},
		"exec":    {"build", "storage", "cmd"},
		"overlay": {"build", "exec", "storage", "userns", "cmd"},
		"userns":  {"build", "exec", "storage", "overlay", "cmd"},
		"build":   {"cmd"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		top, _, _ := strings.Cut(pkg, "/")
		for _, imp := range fields[1:] {
			switch {
			case (strings.HasPrefix(imp, "go.podman.io/storage") || strings.HasPrefix(imp, "go.podman.io/image")) && top != "storage":
				t.Errorf("%s imports %s: only storage/ may use containers/storage and containers/image", pkg, imp)
			case (strings.HasPrefix(imp, "github.com/spf13/cobra") || strings.HasPrefix(imp, "github.com/spf13/pflag")) && top != "cmd":
				t.Errorf("%s imports %s: only cmd/ may use the CLI libraries", pkg, imp)
			case strings.HasPrefix(imp, mod):
				impTop, _, _ := strings.Cut(strings.TrimPrefix(imp, mod), "/")
				for _, f := range forbidden[top] {
					if impTop == f && top != impTop {
						t.Errorf("%s imports %s: dependencies point cmd → build → exec/overlay/userns/storage", pkg, imp)
					}
				}
			}
		}
	}
}

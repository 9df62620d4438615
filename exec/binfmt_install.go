package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// binfmtConfigDirs are where qemu-user-static leaves its registrations:
// systemd-binfmt's format first, then binfmt-support's.
var binfmtConfigDirs = []string{"/usr/lib/binfmt.d", "/usr/share/binfmts"}

// InstallEmulator registers qemu-user-static's emulator for arch with
// binfmt_misc, with the F flag, replacing an entry of the same name that
// lacks it. It needs root, and returns the registered line.
func InstallEmulator(arch string) (string, error) {
	h, ok := elfHeaders[arch]
	if !ok || Native(arch) {
		return "", fmt.Errorf("registering an emulator for %q: not a foreign architecture kiln knows: %w", arch, fs.ErrInvalid)
	}
	line, err := emulatorLine(h.qemu)
	if err != nil {
		return "", err
	}
	dir := binfmtDir()
	name := "qemu-" + h.qemu
	if e, err := readBinfmtEntry(filepath.Join(dir, name)); err == nil {
		if strings.Contains(e.Flags, "F") && e.Enabled {
			return line, nil
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("-1"), 0); err != nil {
			return "", fmt.Errorf("unregistering binfmt entry %s: %w", name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "register"), []byte(line), 0); err != nil {
		return "", fmt.Errorf("registering binfmt entry %s in %s: %w", name, dir, err)
	}
	return line, nil
}

// emulatorLine is the binfmt_misc register line for qemu's emulator of
// qarch, taken from qemu-user-static's files and given the F flag.
func emulatorLine(qarch string) (string, error) {
	name := "qemu-" + qarch
	conf := filepath.Join(binfmtConfigDirs[0], name+".conf")
	if data, err := os.ReadFile(conf); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, ":"+name+":") {
				return withFixBinary(l)
			}
		}
		return "", fmt.Errorf("reading binfmt config %s: no line for %s", conf, name)
	}
	bs := filepath.Join(binfmtConfigDirs[1], name)
	data, err := os.ReadFile(bs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no binfmt config for %s in %s or %s: install qemu-user-static: %w",
			name, binfmtConfigDirs[0], binfmtConfigDirs[1], ErrNoEmulator)
	}
	if err != nil {
		return "", fmt.Errorf("reading binfmt config %s: %w", bs, err)
	}
	return binfmtSupportLine(name, string(data))
}

// withFixBinary adds F to a register line's flags (its last field).
func withFixBinary(line string) (string, error) {
	fields := strings.Split(line, ":")
	if len(fields) != 8 {
		return "", fmt.Errorf("parsing binfmt line %q: want 8 fields, got %d", line, len(fields))
	}
	if !strings.Contains(fields[7], "F") {
		fields[7] += "F"
	}
	return strings.Join(fields, ":"), nil
}

// binfmtSupportLine turns a binfmt-support file (key value lines) into a
// register line with the F flag.
func binfmtSupportLine(name, data string) (string, error) {
	kv := map[string]string{}
	for _, l := range strings.Split(data, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		kv[k] = v
	}
	if kv["magic"] == "" || kv["interpreter"] == "" {
		return "", fmt.Errorf("parsing binfmt config %s: no magic or interpreter", name)
	}
	flags := "F"
	if kv["preserve"] == "yes" {
		flags += "P"
	}
	if kv["credentials"] == "yes" {
		flags += "C"
	}
	return fmt.Sprintf(":%s:M:%s:%s:%s:%s:%s", name, kv["offset"], kv["magic"], kv["mask"], kv["interpreter"], flags), nil
}

package userns

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNoNewuidmap is wrapped when mappings need the setuid helpers newuidmap
// and newgidmap (package uidmap) and they are not installed.
var ErrNoNewuidmap = errors.New("newuidmap/newgidmap not found")

// helperDirs are searched for newuidmap and newgidmap after $PATH, which
// often lacks the sbin directories for ordinary users.
var helperDirs = []string{"/usr/bin", "/usr/sbin"}

// WriteMappings writes the uid and gid mappings of the user namespace of
// process pid, which must not have any yet. When each list is exactly one
// id, the caller's own effective uid or gid, it writes /proc/PID/setgroups
// ("deny"), uid_map and gid_map itself, as the kernel lets any user do;
// otherwise it runs newuidmap and newgidmap, which check the ranges against
// /etc/subuid and /etc/subgid.
func WriteMappings(pid int, uidMaps, gidMaps []specs.LinuxIDMapping) error {
	if len(uidMaps) == 0 || len(gidMaps) == 0 {
		return fmt.Errorf("writing id mappings for pid %d: no uid or no gid mapping given", pid)
	}
	if ownIDOnly(uidMaps, os.Geteuid()) && ownIDOnly(gidMaps, os.Getegid()) {
		return writeOwn(pid, uidMaps[0], gidMaps[0])
	}
	uidHelper, err := lookupHelper("newuidmap", helperDirs)
	if err != nil {
		return err
	}
	gidHelper, err := lookupHelper("newgidmap", helperDirs)
	if err != nil {
		return err
	}
	if err := runHelper(uidHelper, NewuidmapArgs(pid, uidMaps)); err != nil {
		return err
	}
	return runHelper(gidHelper, NewuidmapArgs(pid, gidMaps))
}

// ownIDOnly reports whether maps is one mapping of the single host id id.
func ownIDOnly(maps []specs.LinuxIDMapping, id int) bool {
	return len(maps) == 1 && maps[0].Size == 1 && id >= 0 && maps[0].HostID == uint32(id)
}

// writeOwn writes a single-id mapping through /proc, which needs no helper.
// setgroups must be denied before an unprivileged process may write gid_map.
func writeOwn(pid int, uid, gid specs.LinuxIDMapping) error {
	dir := fmt.Sprintf("/proc/%d", pid)
	err := writeProc(filepath.Join(dir, "setgroups"), "deny")
	if err != nil && !errors.Is(err, os.ErrNotExist) { // before Linux 3.19
		return err
	}
	if err := writeProc(filepath.Join(dir, "uid_map"), mapLine(uid)); err != nil {
		return err
	}
	return writeProc(filepath.Join(dir, "gid_map"), mapLine(gid))
}

func mapLine(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("%d %d %d\n", m.ContainerID, m.HostID, m.Size)
}

// writeProc writes content in the single write(2) the kernel requires for
// the map files.
func writeProc(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", strings.TrimSpace(content), path, err)
	}
	_, err = f.Write([]byte(content))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", strings.TrimSpace(content), path, err)
	}
	return nil
}

// lookupHelper finds an executable name in $PATH or else in dirs.
func lookupHelper(name string, dirs []string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("looking up %s in $PATH and %s: %w", name, strings.Join(dirs, ", "), ErrNoNewuidmap)
}

// runHelper runs newuidmap or newgidmap; its error carries the command line
// and the helper's output, which says which range it refused.
func runHelper(path string, args []string) error {
	out, err := exec.Command(path, args...).CombinedOutput()
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("running %s %s", path, strings.Join(args, " "))
	if out = bytes.TrimSpace(out); len(out) > 0 {
		return fmt.Errorf("%s: %w: %s", msg, err, out)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

package exec

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Network modes of a step.
const (
	// NetworkHost shares the builder's network namespace.
	NetworkHost = "host"
	// NetworkNone gives the step a private namespace with only loopback.
	NetworkNone = "none"
)

// Options describe a step's process for NewSpec.
type Options struct {
	Args     []string
	Env      []string
	Cwd      string
	User     User
	Hostname string
	Network  string
	// Mounts are added after the standard /proc, /dev and /sys mounts.
	Mounts []specs.Mount
	// Security is the seccomp profile and capability set of the step.
	Security Security
}

// MaskedPaths are hidden from every step, as in the container ecosystem's
// default profile.
var MaskedPaths = []string{
	"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
	"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// ReadonlyPaths can be read but not written by a step.
var ReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// NewSpec builds the runtime spec of a step running in root.
func NewSpec(root string, o Options) (*specs.Spec, error) {
	uidMaps, err := identityMaps("/proc/self/uid_map", o.User.UID)
	if err != nil {
		return nil, err
	}
	gidMaps, err := identityMaps("/proc/self/gid_map", o.User.GID)
	if err != nil {
		return nil, err
	}
	nss := []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace},
		{Type: specs.PIDNamespace}, {Type: specs.UTSNamespace}, {Type: specs.IPCNamespace}}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if o.Network != NetworkHost {
		nss = append(nss, specs.LinuxNamespace{Type: specs.NetworkNamespace})
		// sysfs can only be mounted by the owner of the network namespace.
		mounts = append(mounts, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
	}
	mounts = append(mounts, o.Mounts...)
	spec := &specs.Spec{
		Version:  specs.Version,
		Hostname: o.Hostname,
		Root:     &specs.Root{Path: root},
		Process: &specs.Process{
			Args: o.Args, Env: o.Env, Cwd: o.Cwd, NoNewPrivileges: true,
			User: specs.User{UID: o.User.UID, GID: o.User.GID, AdditionalGids: o.User.AdditionalGIDs},
		},
		Mounts: mounts,
		Linux: &specs.Linux{Namespaces: nss, UIDMappings: uidMaps, GIDMappings: gidMaps,
			MaskedPaths: MaskedPaths, ReadonlyPaths: ReadonlyPaths},
	}
	caps, err := Capabilities(o.Security.CapAdd, o.Security.CapDrop)
	if err != nil {
		return nil, err
	}
	spec.Process.Capabilities = processCapabilities(caps, o.User.UID)
	// One mapped id is single-id mode: owner changes go to the builder.
	singleID := len(uidMaps) == 1 && uidMaps[0].Size == 1
	if spec.Linux.Seccomp, err = o.Security.seccompSection(spec, singleID); err != nil {
		return nil, err
	}
	return spec, nil
}

// identityMaps maps every id this process has to itself in the step's user
// namespace. With a single id (rootless without /etc/subuid) that one id
// becomes the step's own id, so a USER 1000 step still runs as 1000.
func identityMaps(file string, want uint32) ([]specs.LinuxIDMapping, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading id map: %w", err)
	}
	defer f.Close()
	var maps []specs.LinuxIDMapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		in, err1 := strconv.ParseUint(fields[0], 10, 32)
		size, err2 := strconv.ParseUint(fields[2], 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("parsing %s line %q", file, sc.Text())
		}
		maps = append(maps, specs.LinuxIDMapping{ContainerID: uint32(in), HostID: uint32(in), Size: uint32(size)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if len(maps) == 1 && maps[0].Size == 1 {
		maps[0].ContainerID = want
	}
	return maps, nil
}

package exec

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"unsafe"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Security is what a build's steps may do beyond their namespaces, chosen
// once for the build: the seccomp profile and the capability set.
type Security struct {
	// SeccompProfile is a seccomp profile in docker's JSON format; nil
	// means the container ecosystem's default profile.
	SeccompProfile []byte
	// SeccompUnconfined turns the seccomp filter off.
	SeccompUnconfined bool
	// CapAdd and CapDrop change DefaultCapabilities (see Capabilities).
	CapAdd, CapDrop []string
}

// Validate checks the capability names and the profile, so that a bad
// flag fails before the build starts.
func (s Security) Validate() error {
	caps, err := Capabilities(s.CapAdd, s.CapDrop)
	if err != nil {
		return err
	}
	if s.SeccompUnconfined || s.SeccompProfile == nil {
		return nil
	}
	spec := &specs.Spec{Process: &specs.Process{Capabilities: processCapabilities(caps, 0)}}
	sc, err := seccomp.LoadProfile(string(s.SeccompProfile), spec)
	if err != nil {
		return fmt.Errorf("reading seccomp profile: %w", err)
	}
	if sc == nil {
		return nil
	}
	if _, err := compileSeccomp(sc); err != nil {
		return fmt.Errorf("compiling seccomp profile: %w", err)
	}
	return nil
}

// notifySyscalls go to the builder in single-id mode (see notify.go): the
// owner changes are recorded, and mode changes of files with a recorded
// owner update the record.
var notifySyscalls = []string{
	"chown", "fchown", "lchown", "fchownat", "chown32", "fchown32", "lchown32",
	"chmod", "fchmod", "fchmodat", "fchmodat2",
}

// subArches are the architectures a native one also runs, as in docker's
// default profile.
var subArches = map[specs.Arch][]specs.Arch{
	specs.ArchX86_64:  {specs.ArchX86, specs.ArchX32},
	specs.ArchAARCH64: {specs.ArchARM},
}

// seccompSection is the spec's seccomp section for a step: the profile
// (nil when unconfined), and in single-id mode the owner-recording rules
// in front of it.
func (s Security) seccompSection(spec *specs.Spec, singleID bool) (*specs.LinuxSeccomp, error) {
	var sc *specs.LinuxSeccomp
	var err error
	switch {
	case s.SeccompUnconfined:
	case s.SeccompProfile != nil:
		sc, err = seccomp.LoadProfile(string(s.SeccompProfile), spec)
	default:
		sc, err = seccomp.GetDefaultProfile(spec)
	}
	if err != nil {
		return nil, fmt.Errorf("building seccomp profile: %w", err)
	}
	if !singleID {
		return sc, nil
	}
	if sc == nil {
		native, err := nativeArch()
		if err != nil {
			return nil, err
		}
		sc = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Architectures: append([]specs.Arch{native}, subArches[native]...)}
	}
	sc.Syscalls = append([]specs.LinuxSyscall{{Names: notifySyscalls, Action: specs.ActNotify}}, sc.Syscalls...)
	return sc, nil
}

// hasNotify reports whether a seccomp section sends syscalls to the builder.
func hasNotify(sc *specs.LinuxSeccomp) bool {
	return sc != nil && slices.ContainsFunc(sc.Syscalls, func(r specs.LinuxSyscall) bool {
		return r.Action == specs.ActNotify
	})
}

// notifyEnv names the fd of the socket over which the init sends the
// seccomp listener to Sandbox.Run.
const notifyEnv = "_KILN_SANDBOX_NOTIFY"

// seccompFilter is a step's filter as the init receives it: compiled by kiln, where the profile
// is at hand already, rather than decoded and compiled again in every step's init (a millisecond
// of a trivial RUN step).
type seccompFilter struct {
	// Program is the classic BPF program, sock_filter structs in host byte order.
	Program []byte `json:"program"`
	// Notify says the program returns SECCOMP_RET_USER_NOTIF for some calls: the init sends the
	// listener to kiln.
	Notify bool `json:"notify,omitempty"`
}

// newSeccompFilter compiles sc for the init.
func newSeccompFilter(sc *specs.LinuxSeccomp) (*seccompFilter, error) {
	if sc == nil {
		return nil, nil
	}
	prog, err := compileSeccomp(sc)
	if err != nil {
		return nil, fmt.Errorf("compiling seccomp profile: %w", err)
	}
	b := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return &seccompFilter{Program: b, Notify: hasNotify(sc)}, nil
}

// instructions decodes Program.
func (f *seccompFilter) instructions() ([]unix.SockFilter, error) {
	if len(f.Program) == 0 || len(f.Program)%8 != 0 || len(f.Program)/8 > maxProgram {
		return nil, fmt.Errorf("loading seccomp filter: bad program of %d bytes", len(f.Program))
	}
	prog := make([]unix.SockFilter, len(f.Program)/8)
	for i := range prog {
		b := f.Program[8*i:]
		prog[i] = unix.SockFilter{Code: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:])}
	}
	return prog, nil
}

// load installs the filter on the calling thread, the last thing before exec (no_new_privs must
// be set). With notify rules it sends the listener fd over the socket sock and closes it.
func (f *seccompFilter) load(sock int) error {
	if f == nil {
		return nil
	}
	if f.Notify && sock < 0 {
		return fmt.Errorf("loading seccomp filter: notify rules and no listener socket")
	}
	prog, err := f.instructions()
	if err != nil {
		return err
	}
	var flags uintptr
	if f.Notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	fd, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if errno != 0 {
		return fmt.Errorf("loading seccomp filter: %w", errno)
	}
	if !f.Notify {
		return nil
	}
	err = unix.Sendmsg(sock, []byte{0}, unix.UnixRights(int(fd)), nil, 0)
	unix.Close(int(fd))
	unix.Close(sock)
	if err != nil {
		return fmt.Errorf("sending seccomp listener: %w", err)
	}
	return nil
}

// notifySocket is the init's end of the listener socket, -1 if none.
func notifySocket() int {
	v := os.Getenv(notifyEnv)
	os.Unsetenv(notifyEnv)
	var fd int
	if _, err := fmt.Sscanf(v, "%d", &fd); err != nil || fd < 3 {
		return -1
	}
	return fd
}

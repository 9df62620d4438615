package exec

import (
	"encoding/binary"
	"encoding/json"
	"runtime"
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// runFilter runs prog on one syscall the way the kernel would and returns
// the filter's verdict. The VM loads words in network order, so each word
// of struct seccomp_data is written big-endian at its offset.
func runFilter(t *testing.T, prog []unix.SockFilter, auditArch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	insts := make([]bpf.Instruction, len(prog))
	for i, f := range prog {
		insts[i] = bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K}.Disassemble()
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("program rejected: %v", err)
	}
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[offNr:], nr)
	binary.BigEndian.PutUint32(data[offArch:], auditArch)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[offArgs+8*i+4:], uint32(a>>32))
	}
	v, err := vm.Run(data)
	if err != nil {
		t.Fatalf("running program: %v", err)
	}
	return uint32(v)
}

const (
	allow = unix.SECCOMP_RET_ALLOW
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func nr(t *testing.T, info *arch.Info, name string) uint32 {
	t.Helper()
	n, ok := info.SyscallNames[name]
	if !ok {
		t.Fatalf("%s has no syscall %s", info.Name, name)
	}
	if info == arch.X32 {
		return uint32(n) | x32Bit
	}
	return uint32(n)
}

func defaultSpec() *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: processCapabilities(DefaultCapabilities, 0)}}
}

func TestSeccompDefaultProfile(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the syscall numbers below are x86's")
	}
	t.Parallel()
	sc, err := Security{}.seccompSection(defaultSpec(), false)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := compileSeccomp(sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) > maxProgram/2 {
		t.Errorf("default profile takes %d instructions", len(prog))
	}
	x86, i386, x32 := uint32(unix.AUDIT_ARCH_X86_64), uint32(unix.AUDIT_ARCH_I386), uint32(unix.AUDIT_ARCH_X86_64)
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	tests := []struct {
		name string
		arch uint32
		info *arch.Info
		call string
		args []uint64
		want uint32
	}{
		{"read", x86, arch.X86_64, "read", nil, allow},
		{"execve", x86, arch.X86_64, "execve", nil, allow},
		{"chown", x86, arch.X86_64, "chown", nil, allow},
		{"mount needs SYS_ADMIN", x86, arch.X86_64, "mount", nil, eperm},
		{"unshare needs SYS_ADMIN", x86, arch.X86_64, "unshare", nil, eperm},
		{"swapon", x86, arch.X86_64, "swapon", nil, eperm},
		{"kexec_load", x86, arch.X86_64, "kexec_load", nil, eperm},
		{"clone3 says ENOSYS", x86, arch.X86_64, "clone3", nil, enosys},
		{"clone of a process", x86, arch.X86_64, "clone", []uint64{uint64(unix.SIGCHLD)}, allow},
		{"clone of a user namespace", x86, arch.X86_64, "clone", []uint64{unix.CLONE_NEWUSER | uint64(unix.SIGCHLD)}, eperm},
		{"personality linux", x86, arch.X86_64, "personality", []uint64{0}, allow},
		{"personality other", x86, arch.X86_64, "personality", []uint64{0x0400000}, eperm},
		{"socket inet", x86, arch.X86_64, "socket", []uint64{unix.AF_INET}, allow},
		{"socket unix", x86, arch.X86_64, "socket", []uint64{unix.AF_UNIX}, allow},
		{"unknown number", x86, arch.X86_64, "", nil, eperm},
		{"i386 read", i386, arch.I386, "read", nil, allow},
		{"i386 chown32", i386, arch.I386, "chown32", nil, allow},
		{"i386 mount", i386, arch.I386, "mount", nil, eperm},
		{"x32 read", x32, arch.X32, "read", nil, allow},
		{"x32 mount", x32, arch.X32, "mount", nil, eperm},
		{"foreign arch", uint32(unix.AUDIT_ARCH_AARCH64), arch.X86_64, "read", nil, eperm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := uint32(999)
			if tt.call != "" {
				n = nr(t, tt.info, tt.call)
			}
			if got := runFilter(t, prog, tt.arch, n, tt.args...); got != tt.want {
				t.Errorf("%s(%v) on %#x: %#x, want %#x", tt.call, tt.args, tt.arch, got, tt.want)
			}
		})
	}
}

func TestSeccompOperators(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the syscall numbers below are x86's")
	}
	t.Parallel()
	const big = 0x1_0000_0005
	rule := func(op specs.LinuxSeccompOperator, v, v2 uint64) *specs.LinuxSeccomp {
		return &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"write"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: v2, Op: op}}},
		}}
	}
	tests := []struct {
		op     specs.LinuxSeccompOperator
		v, v2  uint64
		arg    uint64
		passes bool
	}{
		{specs.OpEqualTo, big, 0, big, true},
		{specs.OpEqualTo, big, 0, 5, false},
		{specs.OpNotEqual, big, 0, 5, true},
		{specs.OpNotEqual, big, 0, big, false},
		{specs.OpGreaterThan, big, 0, big + 1, true},
		{specs.OpGreaterThan, big, 0, big, false},
		{specs.OpGreaterThan, big, 0, 0xffff_ffff, false},
		{specs.OpGreaterEqual, big, 0, big, true},
		{specs.OpGreaterEqual, big, 0, big - 1, false},
		{specs.OpLessThan, big, 0, 0xffff_ffff, true},
		{specs.OpLessThan, big, 0, big, false},
		{specs.OpLessEqual, big, 0, big, true},
		{specs.OpLessEqual, big, 0, 0x2_0000_0000, false},
		{specs.OpMaskedEqual, 0xff00_0000_00ff, 0x1200_0000_0034, 0x12ab_cdef_0034, true},
		{specs.OpMaskedEqual, 0xff00_0000_00ff, 0x1200_0000_0034, 0x12ab_cdef_0035, false},
	}
	for _, tt := range tests {
		prog, err := compileSeccomp(rule(tt.op, tt.v, tt.v2))
		if err != nil {
			t.Fatal(err)
		}
		got := runFilter(t, prog, uint32(unix.AUDIT_ARCH_X86_64), nr(t, arch.X86_64, "write"), 1, 0, tt.arg)
		if (got == allow) != tt.passes {
			t.Errorf("%s %#x (%#x) against %#x: %#x, want passes=%v", tt.op, tt.v, tt.v2, tt.arg, got, tt.passes)
		}
		// Another syscall never matches the rule.
		if got := runFilter(t, prog, uint32(unix.AUDIT_ARCH_X86_64), nr(t, arch.X86_64, "read"), 1, 0, tt.arg); got != eperm {
			t.Errorf("%s: read gave %#x, want the default", tt.op, got)
		}
	}
	// Two conditions on one argument are separate rules (runc's reading).
	or := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"write"},
		Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}, {Index: 0, Value: 2, Op: specs.OpEqualTo}}}}}
	prog, err := compileSeccomp(or)
	if err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[uint64]uint32{1: allow, 2: allow, 3: eperm} {
		if got := runFilter(t, prog, uint32(unix.AUDIT_ARCH_X86_64), nr(t, arch.X86_64, "write"), arg); got != want {
			t.Errorf("write(%d) under two conditions on arg 0: %#x, want %#x", arg, got, want)
		}
	}
}

func TestSeccompSingleIDNotify(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the syscall numbers below are x86's")
	}
	t.Parallel()
	for _, sec := range []Security{{}, {SeccompUnconfined: true}} {
		sc, err := sec.seccompSection(defaultSpec(), true)
		if err != nil {
			t.Fatal(err)
		}
		if !hasNotify(sc) {
			t.Fatalf("single-id section has no notify rule")
		}
		prog, err := compileSeccomp(sc)
		if err != nil {
			t.Fatal(err)
		}
		x86 := uint32(unix.AUDIT_ARCH_X86_64)
		for _, call := range []string{"chown", "fchown", "lchown", "fchownat", "chmod", "fchmodat"} {
			if got := runFilter(t, prog, x86, nr(t, arch.X86_64, call)); got != unix.SECCOMP_RET_USER_NOTIF {
				t.Errorf("unconfined=%v: %s gave %#x, want USER_NOTIF", sec.SeccompUnconfined, call, got)
			}
		}
		if got := runFilter(t, prog, uint32(unix.AUDIT_ARCH_I386), nr(t, arch.I386, "chown32")); got != unix.SECCOMP_RET_USER_NOTIF {
			t.Errorf("i386 chown32 gave %#x, want USER_NOTIF", got)
		}
		if got := runFilter(t, prog, x86, nr(t, arch.X86_64, "read")); got != allow {
			t.Errorf("read gave %#x", got)
		}
		wantMount := eperm
		if sec.SeccompUnconfined {
			wantMount = allow
		}
		if got := runFilter(t, prog, x86, nr(t, arch.X86_64, "mount")); got != wantMount {
			t.Errorf("unconfined=%v: mount gave %#x, want %#x", sec.SeccompUnconfined, got, wantMount)
		}
	}
	sc, err := Security{SeccompUnconfined: true}.seccompSection(defaultSpec(), false)
	if err != nil || sc != nil {
		t.Errorf("unconfined with subordinate ids: %v, %v; want no filter", sc, err)
	}
}

func TestSeccompBadProfiles(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not json":       `{"defaultAction":`,
		"unknown action": `{"defaultAction":"SCMP_ACT_NOPE","syscalls":[]}`,
		"bad operator":   `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_NOPE"}]}]}`,
		"bad index":      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":7,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
	} {
		if err := (Security{SeccompProfile: []byte(body)}).Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ok := `{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["read","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}`
	if err := (Security{SeccompProfile: []byte(ok)}).Validate(); err != nil {
		t.Errorf("valid profile: %v", err)
	}
}

// TestSeccompFilterPayload checks that the filter kiln compiles reaches the init unchanged
// through the JSON payload, notify flag included.
func TestSeccompFilterPayload(t *testing.T) {
	for _, singleID := range []bool{false, true} {
		sc, err := Security{}.seccompSection(defaultSpec(), singleID)
		if err != nil {
			t.Fatal(err)
		}
		want, err := compileSeccomp(sc)
		if err != nil {
			t.Fatal(err)
		}
		spec := defaultSpec()
		spec.Root = &specs.Root{Path: "/"}
		spec.Process.Args = []string{"true"}
		spec.Linux = &specs.Linux{Seccomp: sc}
		data, err := newPayload(spec)
		if err != nil {
			t.Fatal(err)
		}
		var p initPayload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Spec.Linux == nil || p.Spec.Linux.Seccomp != nil || spec.Linux.Seccomp != sc {
			t.Fatalf("single-id %v: the payload's spec should have no seccomp section, and the caller's keep its own", singleID)
		}
		got, err := p.Seccomp.instructions()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || p.Seccomp.Notify != singleID {
			t.Fatalf("single-id %v: %d instructions, notify %v; want %d, notify %v", singleID, len(got), p.Seccomp.Notify, len(want), singleID)
		}
	}
	if _, err := (&seccompFilter{Program: make([]byte, 12)}).instructions(); err == nil {
		t.Fatal("a program of 12 bytes decoded")
	}
}

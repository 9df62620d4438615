package exec

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Offsets in struct seccomp_data: int nr; __u32 arch; __u64 ip; __u64 args[6].
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// x32Bit marks the syscall numbers of the x32 ABI on x86_64.
const x32Bit = 0x40000000

// maxProgram is the kernel's limit on the length of one filter.
const maxProgram = 4096

// seccompArch is one architecture a filter accepts: its audit number, its
// syscall table, and for x32 the bit its numbers carry.
type seccompArch struct {
	audit uint32
	info  *arch.Info
	bit   uint32
}

var seccompArches = map[specs.Arch]seccompArch{
	specs.ArchX86_64:  {audit: uint32(unix.AUDIT_ARCH_X86_64), info: arch.X86_64},
	specs.ArchX86:     {audit: uint32(unix.AUDIT_ARCH_I386), info: arch.I386},
	specs.ArchX32:     {audit: uint32(unix.AUDIT_ARCH_X86_64), info: arch.X32, bit: x32Bit},
	specs.ArchAARCH64: {audit: uint32(unix.AUDIT_ARCH_AARCH64), info: arch.AARCH64},
	specs.ArchARM:     {audit: uint32(unix.AUDIT_ARCH_ARM), info: arch.ARM},
}

// nativeArch is the seccomp architecture of this binary.
func nativeArch() (specs.Arch, error) {
	switch runtime.GOARCH {
	case "amd64":
		return specs.ArchX86_64, nil
	case "arm64":
		return specs.ArchAARCH64, nil
	case "386":
		return specs.ArchX86, nil
	case "arm":
		return specs.ArchARM, nil
	}
	return "", fmt.Errorf("seccomp on %s: %w", runtime.GOARCH, unix.ENOTSUP)
}

// compileSeccomp turns an OCI seccomp section into a classic BPF program for
// seccomp(2), the way runc and libseccomp read it: the program checks the
// architecture (the native one first, then the profile's others; an
// architecture the profile does not name gets the default action), then
// tries the rules with argument conditions in profile order, then the
// unconditional ones, and otherwise returns the default action. Conditions
// of one rule must all hold, except that several conditions on the same
// argument are separate rules, as in runc. Names the architecture does not
// have are skipped, as runc skips them.
func compileSeccomp(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	native, err := nativeArch()
	if err != nil {
		return nil, err
	}
	def, err := retAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	arches := []specs.Arch{native}
	for _, a := range s.Architectures {
		if _, ok := seccompArches[a]; ok && !slices.Contains(arches, a) {
			arches = append(arches, a)
		}
	}
	a := &assembler{}
	// Both x86_64 and x32 report AUDIT_ARCH_X86_64: one block serves both.
	var blocks []archBlock
	for _, name := range arches {
		sa := seccompArches[name]
		if i := slices.IndexFunc(blocks, func(b archBlock) bool { return b.audit == sa.audit }); i >= 0 {
			blocks[i].parts = append(blocks[i].parts, sa)
			continue
		}
		blocks = append(blocks, archBlock{audit: sa.audit, parts: []seccompArch{sa}, label: a.newLabel()})
	}
	a.load(offArch)
	for _, b := range blocks {
		a.jumpFar(bpf.JumpEqual, b.audit, b.label)
	}
	a.ret(def)
	for _, b := range blocks {
		a.setLabel(b.label)
		if err := compileArch(a, b.parts, s.Syscalls, def); err != nil {
			return nil, err
		}
	}
	return a.assemble()
}

// archBlock is the code for one audit architecture.
type archBlock struct {
	audit uint32
	parts []seccompArch
	label int
}

// compileArch emits the rules for one audit architecture; with x32 the
// numbers with the x32 bit go to their own rules.
func compileArch(a *assembler, parts []seccompArch, rules []specs.LinuxSyscall, def uint32) error {
	var plain, x32 *seccompArch
	for i := range parts {
		if parts[i].bit != 0 {
			x32 = &parts[i]
		} else {
			plain = &parts[i]
		}
	}
	a.load(offNr)
	if x32 != nil {
		x32Label := a.newLabel()
		a.jumpFar(bpf.JumpGreaterOrEqual, x32Bit, x32Label)
		if err := compileTable(a, plain, rules, def); err != nil {
			return err
		}
		a.setLabel(x32Label)
		return compileTable(a, x32, rules, def)
	}
	if plain != nil && plain.audit == uint32(unix.AUDIT_ARCH_X86_64) {
		// Without x32 in the profile, x32 numbers get the default action.
		native := a.newLabel()
		a.jumpIf(bpf.JumpGreaterOrEqual, x32Bit, noLabel, native)
		a.ret(def)
		a.setLabel(native)
	}
	return compileTable(a, plain, rules, def)
}

// compileTable emits the rules of one syscall table, ending with the default
// action; the syscall number is in the accumulator on entry.
func compileTable(a *assembler, sa *seccompArch, rules []specs.LinuxSyscall, def uint32) error {
	if sa == nil {
		a.ret(def)
		return nil
	}
	type plainRule struct{ nrs []uint32 }
	plain := map[uint32]*plainRule{}
	var order []uint32
	for _, r := range rules {
		action, err := retAction(r.Action, r.ErrnoRet)
		if err != nil {
			return fmt.Errorf("seccomp rule for %v: %w", r.Names, err)
		}
		for _, name := range r.Names {
			nr, ok := sa.info.SyscallNames[name]
			if !ok {
				continue
			}
			num := uint32(nr) | sa.bit
			if len(r.Args) > 0 {
				if err := compileConditional(a, num, r.Args, action); err != nil {
					return fmt.Errorf("seccomp rule for %s: %w", name, err)
				}
				continue
			}
			p, ok := plain[action]
			if !ok {
				p = &plainRule{}
				plain[action] = p
				order = append(order, action)
			}
			p.nrs = append(p.nrs, num)
		}
	}
	for _, action := range order {
		for _, rg := range ranges(plain[action].nrs) {
			compileRange(a, rg, action)
		}
	}
	a.ret(def)
	return nil
}

// numRange is an inclusive range of syscall numbers.
type numRange struct{ lo, hi uint32 }

// ranges sorts nrs and merges neighbours.
func ranges(nrs []uint32) []numRange {
	nrs = slices.Clone(nrs)
	slices.Sort(nrs)
	nrs = slices.Compact(nrs)
	var out []numRange
	for _, n := range nrs {
		if len(out) > 0 && out[len(out)-1].hi+1 == n {
			out[len(out)-1].hi = n
			continue
		}
		out = append(out, numRange{n, n})
	}
	return out
}

// compileRange returns action when the number in the accumulator is in rg.
func compileRange(a *assembler, rg numRange, action uint32) {
	skip := a.newLabel()
	if rg.lo == rg.hi {
		a.jumpIf(bpf.JumpEqual, rg.lo, noLabel, skip)
	} else {
		a.jumpIf(bpf.JumpGreaterOrEqual, rg.lo, noLabel, skip)
		a.jumpIf(bpf.JumpGreaterThan, rg.hi, skip, noLabel)
	}
	a.ret(action)
	a.setLabel(skip)
}

// compileConditional emits one rule with argument conditions, split as runc
// splits conditions that repeat an argument; the syscall number is in the
// accumulator on entry and on exit.
func compileConditional(a *assembler, nr uint32, args []specs.LinuxSeccompArg, action uint32) error {
	groups := [][]specs.LinuxSeccompArg{args}
	seen := map[uint]bool{}
	for _, arg := range args {
		if seen[arg.Index] {
			groups = nil
			for _, arg := range args {
				groups = append(groups, []specs.LinuxSeccompArg{arg})
			}
			break
		}
		seen[arg.Index] = true
	}
	for _, g := range groups {
		fail := a.newLabel()
		a.jumpIf(bpf.JumpEqual, nr, noLabel, fail)
		for _, arg := range g {
			if err := compileArg(a, arg, fail); err != nil {
				return err
			}
		}
		a.ret(action)
		a.setLabel(fail)
		a.load(offNr)
	}
	return nil
}

// compileArg falls through when the 64-bit argument meets the condition
// and jumps to fail otherwise.
func compileArg(a *assembler, arg specs.LinuxSeccompArg, fail int) error {
	if arg.Index > 5 {
		return fmt.Errorf("argument index %d: want 0 to 5", arg.Index)
	}
	hiOff, loOff := uint32(offArgs+8*arg.Index+4), uint32(offArgs+8*arg.Index)
	vhi, vlo := uint32(arg.Value>>32), uint32(arg.Value)
	ok := a.newLabel()
	switch arg.Op {
	case specs.OpEqualTo:
		a.load(hiOff)
		a.jumpIf(bpf.JumpEqual, vhi, noLabel, fail)
		a.load(loOff)
		a.jumpIf(bpf.JumpEqual, vlo, noLabel, fail)
	case specs.OpNotEqual:
		a.load(hiOff)
		a.jumpIf(bpf.JumpEqual, vhi, noLabel, ok)
		a.load(loOff)
		a.jumpIf(bpf.JumpEqual, vlo, fail, noLabel)
	case specs.OpMaskedEqual:
		mhi, mlo := uint32(arg.Value>>32), uint32(arg.Value)
		whi, wlo := uint32(arg.ValueTwo>>32), uint32(arg.ValueTwo)
		a.load(hiOff)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mhi})
		a.jumpIf(bpf.JumpEqual, whi, noLabel, fail)
		a.load(loOff)
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mlo})
		a.jumpIf(bpf.JumpEqual, wlo, noLabel, fail)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// hi > vhi: met; hi < vhi: failed; equal: the low word decides.
		a.load(hiOff)
		a.jumpIf(bpf.JumpGreaterThan, vhi, ok, noLabel)
		a.jumpIf(bpf.JumpEqual, vhi, noLabel, fail)
		a.load(loOff)
		cond := bpf.JumpGreaterThan
		if arg.Op == specs.OpGreaterEqual {
			cond = bpf.JumpGreaterOrEqual
		}
		a.jumpIf(cond, vlo, noLabel, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		a.load(hiOff)
		a.jumpIf(bpf.JumpGreaterThan, vhi, fail, noLabel)
		a.jumpIf(bpf.JumpEqual, vhi, noLabel, ok)
		a.load(loOff)
		cond := bpf.JumpGreaterOrEqual
		if arg.Op == specs.OpLessEqual {
			cond = bpf.JumpGreaterThan
		}
		a.jumpIf(cond, vlo, fail, noLabel)
	default:
		return fmt.Errorf("operator %q: %w", arg.Op, unix.ENOTSUP)
	}
	a.setLabel(ok)
	return nil
}

// retAction is the filter return value of an OCI action.
func retAction(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	errno := func(def uint32) uint32 {
		if errnoRet != nil {
			return uint32(*errnoRet) & unix.SECCOMP_RET_DATA
		}
		return def
	}
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | errno(uint32(unix.EPERM)), nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | errno(uint32(unix.EPERM)), nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return unix.SECCOMP_RET_USER_NOTIF, nil
	}
	return 0, fmt.Errorf("action %q: %w", act, unix.ENOTSUP)
}

// noLabel in a jump means "the next instruction".
const noLabel = -1

// assembler builds a BPF program with forward jumps to labels.
type assembler struct {
	insts  []bpf.Instruction
	jumps  map[int][2]int // instruction index -> true and false labels
	labels []int          // label -> instruction index, -1 until set
}

func (a *assembler) newLabel() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *assembler) setLabel(l int) { a.labels[l] = len(a.insts) }

func (a *assembler) emit(i bpf.Instruction) { a.insts = append(a.insts, i) }

func (a *assembler) load(off uint32) { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *assembler) ret(v uint32) { a.emit(bpf.RetConstant{Val: v}) }

// jumpIf jumps to t when cond holds against val, else to f.
func (a *assembler) jumpIf(cond bpf.JumpTest, val uint32, t, f int) {
	if a.jumps == nil {
		a.jumps = map[int][2]int{}
	}
	a.jumps[len(a.insts)] = [2]int{t, f}
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

// jump jumps to l unconditionally.
func (a *assembler) jump(l int) {
	if a.jumps == nil {
		a.jumps = map[int][2]int{}
	}
	a.jumps[len(a.insts)] = [2]int{l, noLabel}
	a.emit(bpf.Jump{})
}

// jumpFar jumps to l, however far, when cond holds against val.
func (a *assembler) jumpFar(cond bpf.JumpTest, val uint32, l int) {
	next := a.newLabel()
	a.jumpIf(cond, val, noLabel, next)
	a.jump(l)
	a.setLabel(next)
}

// skip is the distance from the instruction at i to label l.
func (a *assembler) skip(i, l int) (uint32, error) {
	if l == noLabel {
		return 0, nil
	}
	target := a.labels[l]
	if target <= i {
		return 0, fmt.Errorf("seccomp program: label %d not set after instruction %d", l, i)
	}
	return uint32(target - i - 1), nil
}

// assemble resolves the jumps and encodes the program.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if len(a.insts) > maxProgram {
		return nil, fmt.Errorf("seccomp program of %d instructions: over the kernel's limit of %d", len(a.insts), maxProgram)
	}
	for i, j := range a.jumps {
		t, err := a.skip(i, j[0])
		if err != nil {
			return nil, err
		}
		f, err := a.skip(i, j[1])
		if err != nil {
			return nil, err
		}
		switch in := a.insts[i].(type) {
		case bpf.Jump:
			in.Skip = t
			a.insts[i] = in
		case bpf.JumpIf:
			if t > 255 || f > 255 {
				return nil, fmt.Errorf("seccomp program: jump at %d too far", i)
			}
			in.SkipTrue, in.SkipFalse = uint8(t), uint8(f)
			a.insts[i] = in
		}
	}
	raw, err := bpf.Assemble(a.insts)
	if err != nil {
		return nil, fmt.Errorf("assembling seccomp program: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

package exec

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// BinfmtDirEnv overrides where binfmt_misc is read from. Tests point it at a
// fake directory; nothing else should set it.
const BinfmtDirEnv = "KILN_BINFMT_DIR"

// binfmtDir is the binfmt_misc mount kiln reads.
func binfmtDir() string {
	if d := os.Getenv(BinfmtDirEnv); d != "" {
		return d
	}
	return "/proc/sys/fs/binfmt_misc"
}

// ErrNoEmulator marks a foreign architecture the kernel cannot run.
var ErrNoEmulator = errors.New("no binfmt_misc emulator")

// elfHeader is the first 20 bytes of an executable of one architecture: the
// ELF magic, class, data encoding, version, padding, e_type (ET_EXEC) and
// e_machine, which is what binfmt_misc entries match.
type elfHeader struct {
	class64, bigEndian bool
	machine            uint16
	// qemu is the name qemu-user-static gives the emulator.
	qemu string
}

// elfHeaders are the architectures kiln can emulate, by GOARCH name.
var elfHeaders = map[string]elfHeader{
	"amd64":    {true, false, 0x3e, "x86_64"},
	"386":      {false, false, 0x03, "i386"},
	"arm64":    {true, false, 0xb7, "aarch64"},
	"arm":      {false, false, 0x28, "arm"},
	"riscv64":  {true, false, 0xf3, "riscv64"},
	"s390x":    {true, true, 0x16, "s390x"},
	"ppc64le":  {true, false, 0x15, "ppc64le"},
	"ppc64":    {true, true, 0x15, "ppc64"},
	"mips64le": {true, false, 0x08, "mips64el"},
	"mipsle":   {false, false, 0x08, "mipsel"},
	"loong64":  {true, false, 0x102, "loongarch64"},
}

// bytes is the header as it appears at the start of a file.
func (h elfHeader) bytes() []byte {
	b := []byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if h.class64 {
		b[4] = 2
	}
	if h.bigEndian {
		b[5] = 2
		b[16], b[17] = 0, 2
		b[18], b[19] = byte(h.machine>>8), byte(h.machine)
	} else {
		b[16], b[17] = 2, 0
		b[18], b[19] = byte(h.machine), byte(h.machine>>8)
	}
	return b
}

// Native reports whether this host runs arch's binaries without emulation.
func Native(arch string) bool {
	return arch == "" || arch == runtime.GOARCH || runtime.GOARCH == "amd64" && arch == "386"
}

// BinfmtEntry is one registered binfmt_misc handler.
type BinfmtEntry struct {
	Name        string
	Enabled     bool
	Interpreter string
	Flags       string
	Offset      int
	Magic, Mask []byte
}

// matches reports whether the entry handles executables starting with hdr.
func (e *BinfmtEntry) matches(hdr []byte) bool {
	if len(e.Magic) == 0 || e.Offset+len(e.Magic) > len(hdr) {
		return false
	}
	for i, m := range e.Magic {
		b := hdr[e.Offset+i]
		if i < len(e.Mask) {
			b &= e.Mask[i]
			m &= e.Mask[i]
		}
		if b != m {
			return false
		}
	}
	return true
}

// readBinfmtEntry parses one file of binfmt_misc.
func readBinfmtEntry(path string) (*BinfmtEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading binfmt entry %s: %w", path, err)
	}
	e := &BinfmtEntry{Name: filepath.Base(path)}
	for _, line := range strings.Split(string(data), "\n") {
		key, val, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch key {
		case "enabled":
			e.Enabled = true
		case "interpreter":
			e.Interpreter = val
		case "flags:":
			e.Flags = val
		case "offset":
			if e.Offset, err = strconv.Atoi(val); err != nil {
				return nil, fmt.Errorf("reading binfmt entry %s: offset %q: %w", path, val, err)
			}
		case "magic":
			if e.Magic, err = hex.DecodeString(val); err != nil {
				return nil, fmt.Errorf("reading binfmt entry %s: magic: %w", path, err)
			}
		case "mask":
			if e.Mask, err = hex.DecodeString(val); err != nil {
				return nil, fmt.Errorf("reading binfmt entry %s: mask: %w", path, err)
			}
		}
	}
	return e, nil
}

// CheckEmulator makes sure the kernel can run arch's binaries inside a
// step's new root: natively, or through an enabled binfmt_misc entry for
// arch's ELF header with the F (fix-binary) flag, whose interpreter the
// kernel opened when it was registered. The error says what to install and
// how to register it.
func CheckEmulator(arch string) error { return checkEmulator(binfmtDir(), arch) }

func checkEmulator(dir, arch string) error {
	if Native(arch) {
		return nil
	}
	h, ok := elfHeaders[arch]
	if !ok {
		return fmt.Errorf("running %s binaries: kiln knows no ELF header for this architecture: %w", arch, ErrNoEmulator)
	}
	hint := fmt.Sprintf("install qemu-user-static (apt-get install qemu-user-static binfmt-support) and register it with "+
		"the F flag: kiln binfmt --install %s (as root)", arch)
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return fmt.Errorf("running %s binaries: binfmt_misc is not mounted at %s (mount -t binfmt_misc binfmt_misc %s); %s: %w",
			arch, dir, dir, hint, ErrNoEmulator)
	}
	if strings.TrimSpace(string(status)) != "enabled" {
		return fmt.Errorf("running %s binaries: binfmt_misc is disabled at %s (echo 1 > %s/status); %s: %w",
			arch, dir, dir, hint, ErrNoEmulator)
	}
	entries, err := binfmtEntries(dir)
	if err != nil {
		return err
	}
	var withoutF *BinfmtEntry
	for _, e := range entries {
		if !e.Enabled || !e.matches(h.bytes()) {
			continue
		}
		if strings.Contains(e.Flags, "F") {
			return nil
		}
		withoutF = e
	}
	if withoutF != nil {
		return fmt.Errorf("running %s binaries: binfmt_misc entry %s (%s) lacks the F flag, so its interpreter cannot be "+
			"found inside a build step; re-register it: kiln binfmt --install %s (as root): %w",
			arch, withoutF.Name, withoutF.Interpreter, arch, ErrNoEmulator)
	}
	return fmt.Errorf("running %s binaries: no enabled binfmt_misc entry in %s handles them; %s: %w", arch, dir, hint, ErrNoEmulator)
}

// BinfmtEntries lists the registered binfmt_misc handlers, by name.
func BinfmtEntries() ([]*BinfmtEntry, error) { return binfmtEntries(binfmtDir()) }

func binfmtEntries(dir string) ([]*BinfmtEntry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading binfmt_misc %s: %w", dir, err)
	}
	var out []*BinfmtEntry
	for _, de := range des {
		if n := de.Name(); n == "register" || n == "status" || de.IsDir() {
			continue
		}
		e, err := readBinfmtEntry(filepath.Join(dir, de.Name()))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // unregistered meanwhile
			}
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EmulatedArches lists the foreign architectures kiln knows that this host
// can run now, for kiln binfmt.
func EmulatedArches() map[string]string {
	out := map[string]string{}
	for arch := range elfHeaders {
		if Native(arch) {
			continue
		}
		if err := CheckEmulator(arch); err == nil {
			out[arch] = "ok"
		} else {
			out[arch] = err.Error()
		}
	}
	return out
}

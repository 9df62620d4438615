package exec

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

var initExe struct {
	once sync.Once
	fd   *os.File // sealed memfd holding kiln-init, nil when there is none
}

// initExecutable is the program a sandbox starts as: the embedded kiln-init from a sealed
// memfd, or kiln itself. The memfd is made once per process; sealed, neither the builder nor a
// step can change it, so a step that writes to /proc/1/exe or its parent's exe reaches nothing
// (the runc CVE-2019-5736 class).
func initExecutable() (string, error) {
	initExe.once.Do(func() {
		b := embeddedInit()
		if len(b) == 0 {
			return
		}
		f, err := sealedMemfd("kiln-init", b)
		if err != nil {
			return // kiln itself still works as the init
		}
		// The child finds the memfd by number before it executes it; a low number would be
		// taken by the descriptors a sandbox is handed (3, 4, 5, ...) by then.
		high, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
		f.Close()
		if err != nil {
			return
		}
		initExe.fd = os.NewFile(uintptr(high), "kiln-init")
	})
	if initExe.fd != nil {
		// The child resolves the path before its close-on-exec descriptors close.
		return "/proc/self/fd/" + strconv.Itoa(int(initExe.fd.Fd())), nil
	}
	return os.Executable()
}

func sealedMemfd(name string, b []byte) (*os.File, error) {
	// MFD_EXEC says the memfd is to be executed (Linux 6.3 and later, where vm.memfd_noexec=2
	// refuses it: kiln then starts itself); older kernels do not know the flag.
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd for %s: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing %s: %w", name, err)
	}
	return f, nil
}
